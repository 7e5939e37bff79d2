"""The help centre's articles and its French search, pure (no app, no database): what people type finds the article
that answers it first, whatever the accents, the plural, the typo or the abbreviation; snippets are clean."""
from __future__ import annotations

import re
import time

import pytest
from markupsafe import Markup

from chorus_chain.domain import help as texts
from chorus_chain.help_articles import ARTICLES, BY_SLUG, SECTIONS, by_section, library, markup, search
from chorus_chain.help_articles.pages import PAGES
from chorus_chain.help_articles.search_index import MAX_QUERY, HelpIndex
from chorus_chain.help_articles.text import fold, stems, tokens


def _slugs(query, n=None):
    return [hit.article.slug for hit in search(query, limit=n)]


# --- The library -----------------------------------------------------------------------------------------------------


def test_at_least_forty_articles_each_with_a_summary_and_a_known_section():
    assert len(ARTICLES) >= 40
    assert len(BY_SLUG) == len(ARTICLES)
    for article in ARTICLES:
        assert article.section in SECTIONS
        assert len(article.title) > 10 and len(article.summary) > 80, article.slug
        assert len(article.text.split()) >= 120, f"{article.slug} is too short to help anyone"
    assert [key for key, _, _ in by_section()] == [key for key in SECTIONS if any(a.section == key for a in ARTICLES)]


# The steps of the Chorus Pro training programme the centre must cover, each with the article that covers it.
COVERAGE = {
    "compte": "creer-un-compte", "mot de passe": "mot-de-passe", "structure": "creer-une-structure",
    "gestionnaire principal": "gestionnaire-principal", "rattachement": "rattacher-des-collegues",
    "services": "services", "droits": "droits-des-utilisateurs", "coordonnées bancaires": "coordonnees-bancaires",
    "synthèse": "synthese", "tableau de bord": "tableau-de-bord", "à recycler": "piece-a-recycler",
    "suspendue": "piece-suspendue", "rejetée": "piece-rejetee", "DC4": "declarer-un-sous-traitant",
    "paiement direct": "paiement-direct", "autoliquidation": "autoliquidation", "circuit": "circuit-travaux",
    "état d'acompte": "etat-d-acompte", "retenue de garantie": "retenue-de-garantie", "avance": "avance",
    "révision des prix": "revision-des-prix", "intérêts moratoires": "interets-moratoires",
    "décompte général": "reception-et-decompte-final", "support": "support", "réforme": "facturation-electronique",
}
CADRES_COVERED = ("A1", "A2", "A4", "A7", "A8", "A9", "A10", "A12", "A13", "A14", "A15", "A17", "A19", "A20", "A22",
                  "A23")


@pytest.mark.parametrize("topic, slug", COVERAGE.items())
def test_every_step_of_the_training_programme_has_its_article(topic, slug):
    assert slug in BY_SLUG
    assert slug in _slugs(topic, 3), f"« {topic} » should find {slug} among the first three: {_slugs(topic, 3)}"


@pytest.mark.parametrize("cadre", CADRES_COVERED)
def test_every_cadre_is_explained_and_found(cadre):
    assert "cadres-de-facturation" in _slugs(cadre, 5) or any(cadre in BY_SLUG[s].title for s in _slugs(cadre, 3))


def test_every_status_article_exists():
    assert set(texts.STATUS_ARTICLES.values()) <= set(BY_SLUG)


def test_links_point_only_at_known_pages_and_articles():
    for article in ARTICLES:
        assert any(t.startswith("page:") for t in article.parsed.links), f"{article.slug}: no link to a page"
        for target in article.parsed.links:
            kind, _, key = target.partition(":")
            assert (kind == "page" and key in PAGES) or (kind == "aide" and key in BY_SLUG), (article.slug, target)


def test_a_broken_article_is_refused_when_the_library_loads(tmp_path):
    (tmp_path / "ok.md").write_text('+++\ntitle = "Un titre"\nsection = "compte"\n+++\nUn résumé.\n')
    (tmp_path / "casse.md").write_text('+++\ntitle = "Casse"\nsection = "compte"\n+++\nVoir [ici](page:nulle-part).\n')
    with pytest.raises(ValueError, match="page:nulle-part"):
        library.load(tmp_path)
    (tmp_path / "casse.md").write_text('+++\ntitle = "Casse"\nsection = "inconnue"\n+++\nTexte.\n')
    with pytest.raises(ValueError, match="unknown section"):
        library.load(tmp_path)
    (tmp_path / "casse.md").write_text('<script>\n+++\ntitle = "Casse"\nsection = "compte"\n+++\nTexte.\n')
    with pytest.raises(ValueError, match="header"):
        library.load(tmp_path)


def test_raw_html_in_an_article_is_text_never_markup():
    parsed = markup.parse('Un <script>alert(1)</script> et <b>gras</b>, [lien](page:synthese).')
    html = markup.render(parsed, lambda target: "/x?a=1&b=<2>")
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>" not in html
    assert 'href="/x?a=1&amp;b=&lt;2&gt;"' in html


def test_french_typography_keeps_a_colon_on_its_line():
    html = markup.render(markup.parse("Attention : « ceci » ; vraiment ?"), str)
    assert "Attention\u00a0:" in html and "«\u00a0ceci\u00a0»" in html and "\u202f;" in html and "\u202f?" in html


# --- Words ------------------------------------------------------------------------------------------------------------


def test_words_are_folded_and_stemmed_both_ways():
    assert fold("Maître d'Œuvre Décompté") == "maitre d'oeuvre decompte"
    assert stems("rejetée") & stems("rejetee") and stems("garantie") & stems("garanti")
    assert stems("décomptes") & stems("decompte")
    found = [t.surface for t in tokens("Le sous-traitant et la Factur-X de l'état")]
    assert found[:3] == ["soustraitant", "sous", "traitant"] and "facturx" in found and "etat" in found
    assert "le" not in found and "x" not in found


# --- The required queries, with their synonyms, unaccented, misspelt and abbreviated forms ---------------------------

REQUIRED = {
    "retenue-de-garantie": ["retenue de garantie", "Retenue de garantie", "RETENUE DE GARANTIE", "retenu de garanti",
                            "retenues de garanties", "retenue garantie", "la RG", "libération de la retenue",
                            "retenue de garentie"],
    "autoliquidation": ["autoliquidation", "auto liquidation", "auto-liquidation", "AUTOLIQUIDATION",
                        "autoliquidaton", "TVA autoliquidée", "tva autoliquidee", "facture sans TVA sous-traitant"],
    "mot-de-passe": ["mot de passe", "mots de passe", "mot de pass oublié", "mot de passe oublie", "mdp",
                     "MDP oublié", "j'ai perdu mon mdp", "changer mon mot de passe", "password",
                     "réinitialiser le mot de passe"],
    "facturx": ["facturx", "factur-x", "Factur X", "FACTUR-X", "factur x", "facturx pdf", "faktur-x"],
}


@pytest.mark.parametrize("expected, query", [(slug, q) for slug, queries in REQUIRED.items() for q in queries])
def test_required_queries_find_their_article_first(expected, query):
    found = _slugs(query, 5)
    assert found and found[0] == expected, f"« {query} » → {found}"


@pytest.mark.parametrize("query, expected", [
    ("pièce à recycler", "piece-a-recycler"), ("piece a recycler", "piece-a-recycler"),
    ("recyclage", "piece-a-recycler"), ("pièce suspendue", "piece-suspendue"),
    ("facture rejetée", "piece-rejetee"), ("decompte general tacite", "dgd-tacite"), ("DGD tacite", "dgd-tacite"),
    ("intérêts moratoires", "interets-moratoires"), ("interets de retard", "interets-moratoires"),
    ("sous-traitant DC4", "declarer-un-sous-traitant"), ("acte spécial", "declarer-un-sous-traitant"),
    ("RIB", "coordonnees-bancaires"), ("changer d'IBAN", "coordonnees-bancaires"),
    ("situation de travaux", "deposer-projet-decompte"), ("PDM", "deposer-projet-decompte"),
    ("état d'acompte", "etat-d-acompte"), ("etat d acompte", "etat-d-acompte"),
    ("paiement direct", "paiement-direct"), ("rang 2", "facture-privee-sous-traitant"),
    ("plateforme agréée", "facturation-electronique"), ("PDP", "facturation-electronique"),
    ("réforme 2026", "facturation-electronique"), ("gestionnaire principal", "gestionnaire-principal"),
    ("indice BT01", "revision-des-prix"), ("avoir", "avoir"), ("code service", "services"),
    ("validation tacite", "repondre-validation"), ("ticket support", "support"), ("notifications", "notifications"),
])
def test_common_questions_rank_the_right_article_first(query, expected):
    found = _slugs(query, 5)
    assert found and found[0] == expected, f"« {query} » → {found}"


def test_an_article_answering_the_whole_question_beats_one_repeating_a_word():
    hits = search("retenue de garantie avance")
    assert {h.article.slug for h in hits[:3]} >= {"retenue-de-garantie", "avance"} or hits[0].coverage == 1.0
    assert all(hits[i].score >= hits[i + 1].score for i in range(len(hits) - 1))


def test_a_corrected_word_is_said_so_and_counts_less():
    exact, typo = search("autoliquidation")[0], search("autoliquidaton")[0]
    assert exact.article.slug == typo.article.slug == "autoliquidation"
    assert not exact.corrected and typo.corrected and typo.score < exact.score


@pytest.mark.parametrize("query", ["", "   ", "le la les de", "xylophone", "zzzz qqqq", "?!;", "x" * 10_000,
                                   "' OR 1=1 --", "\x00\u202e", "1 1"])
def test_meaningless_queries_find_nothing_and_raise_nothing(query):
    assert search(query) == []


def test_markup_in_a_query_is_only_words():
    for hit in search("<script>alert(1)</script> <img src=x onerror=alert(2)> retenue"):
        assert "<script" not in str(hit.snippet_html) and "onerror" not in str(hit.snippet_html)


def test_a_long_question_is_cut_and_answers_quickly():
    question = "comment déclarer la retenue de garantie de mon sous-traitant en autoliquidation " * 40
    started = time.perf_counter()
    hits = search(question)
    assert hits and len(question) > MAX_QUERY
    assert time.perf_counter() - started < 2  # generous: a guard against a pathological case, not a benchmark


# --- Snippets ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["retenue de garantie", "autoliquidation", "mdp", "facturx", "retenu de garanti"])
def test_snippets_are_short_plain_text_with_the_match_highlighted(query):
    hit = search(query)[0]
    assert 40 < len(hit.snippet) <= 240
    assert "<" not in hit.snippet.replace("<SIRET>", "") and "**" not in hit.snippet and "](" not in hit.snippet
    assert hit.highlights, hit.snippet
    for start, end in hit.highlights:
        assert 0 <= start < end <= len(hit.snippet)
    html = hit.snippet_html
    assert isinstance(html, Markup)
    assert re.sub(r"</?mark>", "", str(html)).count("<") == 0
    marked = re.findall(r"<mark>(.*?)</mark>", str(html))
    assert marked and all(fold(m) for m in marked)


def test_snippet_markup_is_escaped():
    from chorus_chain.help_articles.search_index import Hit

    hit = Hit(BY_SLUG["se-connecter"], 1.0, 1.0, "l'adresse /s/<SIRET>/ & <b>", ((2, 9), (13, 20)), (), False)
    assert str(hit.snippet_html) == "l&#39;<mark>adresse</mark> /s/<mark>&lt;SIRET&gt;</mark>/ &amp; &lt;b&gt;"
    real = next(h for h in search("adresse SIRET onglets", limit=None) if h.article.slug == "se-connecter")
    assert "<SIRET>" not in str(real.snippet_html)


def test_search_returns_scores_and_coverage_for_the_assistant():
    hits = search("retenue de garantie", limit=3)
    assert len(hits) == 3
    top = hits[0]
    assert top.score > 0 and top.coverage == 1.0 and top.matched and not top.corrected
    assert top.article.summary.startswith("La **retenue".replace("**", "")) or "retenue" in top.article.summary


# --- The demo's examples ---------------------------------------------------------------------------------------------


def test_the_demo_examples_the_articles_cite_exist_in_the_demo():
    """An article's example names the demo's companies, marché and pieces: when the demo changes, this test says which
    article to update (instead of an article telling users about a piece they will never find)."""
    from chorus_chain import demo, demo_money

    numbers = {piece.number for piece in demo.DEMO_PIECES}
    numbers |= {f"{prefix}-{n:02d}" for prefix in demo_money.NUMBER_PREFIX.values()
                for n in range(1, len(demo_money.MONTHS) + 1)}
    companies = {company.name for company in demo.COMPANIES}
    emails = {company.email for company in demo.COMPANIES} | {email for _, email, *_ in demo.EXTRA_MEMBERS}
    cited_numbers = cited_companies = 0
    for article in ARTICLES:
        text = article.parsed.text + " " + " ".join(article.headings)
        for number in re.findall(r"\b[A-Z]{2}-(?:PDM-\d{2}|\d{4}-\d{3})\b", text):
            assert number in numbers, f"{article.slug} cites {number}, which the demo does not seed"
            cited_numbers += 1
        for email in re.findall(r"[\w.]+@demo\.chorus-chain\.fr", text):
            assert email in emails, f"{article.slug} cites {email}"
        for name in re.findall(r"(?:Durand|Martin|Leroy|Bernard|Petit|Moreau|Lumen|Montreuil)[\w&' -]*", text):
            cited_companies += any(company.split()[0] in name for company in companies)
        assert "DEMO-TRAVAUX" not in text or demo.DEMO_MARCHE in text
    assert cited_numbers >= 20 and cited_companies >= 50
    for reference, designation in (("GO-03", "Maçonnerie"), ("PL-01", "Cloisons"), ("GO-02", "Béton armé")):
        assert any(line[2] == reference and designation in line[3] for line in demo_money.SCHEDULE)
