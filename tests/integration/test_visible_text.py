"""What every demo company reads, page by page (issue 15): no raw status code (MISE_EN_PAIEMENT, A_VALIDER_1…) and
French typography for figures (no « 30,0000 », no « 30,00 m² » for a quantity, m² and m³ rather than m2 and m3, « 1er »
for the first of a month).

A crawl as each company's gestionnaire: from its Synthèse, every link of every page it reaches under its own
structure (bounded), GET only, HTML pages only. The visible text is what a reader sees: the text of the page and the
tooltips (title), not the markup, scripts or attributes.
"""
from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

from chorus_chain.domain.statuses import Status
# `app` and `demo_db` are fixtures: this module runs on a database holding the demo.
from tests.integration.test_hostile_clients import COMPANY, KEYS, app, client_for, demo_db  # noqa: F401

PAGES_PER_COMPANY = 120
PIECES_PER_COMPANY = 30
PIECE_PAGE = re.compile(r"/pieces/\d+$")
# A code with an underscore (A_VALIDER_1, MISE_EN_PAIEMENT), or a one-word status code (COMPLETEE, REJETEE) — but
# « BROUILLON », which the draft banner writes in capitals as French does for emphasis.
STATUS_CODE = re.compile(r"\b[A-Z]+_[A-Z0-9_]+\b|\b(?:" + "|".join(
    code.value for code in Status if "_" not in code.value and code != Status.BROUILLON) + r")\b")
# A figure with a trailing zero beyond the cents (« 30,0000 », « 0,1250 »); a quantity with a trailing zero before its unit; a unit written m2 / m3.
BAD_FIGURES = [re.compile(r"\d,\d{2,}0(?!\d)"), re.compile(r"\d,\d*0[\s\u00a0\u202f]?(?:m²|m³|m\b|u\b|ml\b|h\b)"),
               re.compile(r"\d[\s\u00a0\u202f]?m[23]\b"),
               re.compile(r"(?<![\w-])m[23](?![\w-])"),  # a unit alone in its column (the bordereau read « m2 »)
               # the first of a month is « 1er » (« semaine du 1 février » on the Trésorerie, seeded on 6 Dec. 2026)
               re.compile(r"(?<![\d,.])1[\s\u00a0](?:janv|févr|mars|avr|mai|juin|juil|août|sept|oct|nov|déc)")]
# Pages the crawl must reach (the figures and statuses of the demo are shown there).
KINDS = {"piece": r"/pieces/\d+$", "décompte": r"/pieces/\d+/decompte$", "bordereau": r"/bordereau$",
         "état d'acompte": r"/etats/\d+$", "finances": r"/finances$", "synthèse": r"/synthese$"}
SKIPPED = ("/deconnexion", "/telecharger", ".pdf", ".zip", ".xml", ".csv", ".xlsx", "/export", "/facturx", "/flux",
           "/aide/", "/demandes-aide/nouvelle")  # the help centre's articles and the support form's ?page= copies
# (static prose, tested by test_help_centre) would take the walk's budget before the marché's pages


class _Visible(HTMLParser):
    """The text a reader sees (and the tooltips), and the links."""

    HIDDEN = {"script", "style", "template", "head"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.HIDDEN:
            self._hidden += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if attrs.get("title") and not self._hidden:
            self.text.append(attrs["title"])

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.text.append(data)


def _crawl(client, siret: str):
    """Yield (path, visible text) for the pages reachable from the Synthèse, breadth first, bounded."""
    prefix = f"/s/{siret}/"
    queue, seen = deque([prefix + "synthese"]), {prefix + "synthese"}
    visited = pieces = 0
    while queue and visited < PAGES_PER_COMPANY:  # pages read, not links found: a page rich in links (the
        path = queue.popleft()                    # Trésorerie's) must not end the walk before the bordereau
        visited += 1
        response = client.get(path)
        if response.status_code != 200 or not response.mimetype.startswith("text/html"):
            continue
        parser = _Visible()
        parser.feed(response.get_data(as_text=True))
        yield path, " ".join(parser.text)
        for href in parser.links:
            href = urldefrag(href)[0]
            target = urlsplit(href)
            if target.netloc or not target.path.startswith(prefix) or any(s in target.path for s in SKIPPED):
                continue
            if href not in seen:
                if PIECE_PAGE.search(target.path):
                    pieces += 1
                    if pieces > PIECES_PER_COMPANY:  # pieces are alike: the marché's pages must be reached too
                        continue
                seen.add(href)
                queue.append(href)


def test_no_company_reads_a_raw_status_code_or_a_badly_typeset_figure(app, demo_db):  # noqa: F811
    findings = []
    pages, kinds = 0, set()
    for key in KEYS:
        client = client_for(app, demo_db, key)
        for path, text in _crawl(client, COMPANY[key].siret):
            pages += 1
            kinds.update(kind for kind in KINDS if re.search(KINDS[kind], path))
            for match in STATUS_CODE.finditer(text):
                around = " ".join(text[max(match.start() - 60, 0):match.end() + 20].split())
                findings.append(f"{key} {path}: status code {match.group(0)} in « {around} »")
            for pattern in BAD_FIGURES:
                for match in pattern.finditer(text):
                    around = " ".join(text[max(match.start() - 60, 0):match.end() + 20].split())
                    findings.append(f"{key} {path}: figure « {match.group(0)} » in « {around} »")
    assert pages > 7 * 20, pages  # the crawl did reach the companies' pages…
    assert kinds == set(KINDS), set(KINDS) - kinds  # …those where figures and statuses are shown among them
    assert not findings, "\n".join(sorted(set(findings))[:80])
