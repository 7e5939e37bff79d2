"""`row_urls.id_url` writes exactly what `url_for` writes, for any id, with the tenant's SIRET and other arguments, and
keeps nothing from one request to the next (a URL names its request's tenant)."""
from __future__ import annotations

from types import SimpleNamespace

from flask import g, url_for

from markupsafe import escape

from chorus_chain.row_urls import _MARK, id_url, piece_link_parts, piece_url

IDS = (1, 7, 42, 1000, 19988, 2_147_483_647, _MARK)


def test_id_url_is_url_for_for_any_id_and_arguments(app):
    cases = [("pieces.show", "piece_id", {}), ("pieces.show", "piece_id", {"_anchor": "action-refuse"}),
             ("dashboard.act", "piece_id", {}), ("dashboard.action_fields", "piece_id", {"action": "validate"}),
             ("dashboard.action_fields", "piece_id", {"action": "refuse"}),
             ("etats.index", "marche_id", {}), ("etats.show", "marche_id", {"etat_id": 3, "_anchor": None})]
    for siret in ("40000047700010", "12345678900011"):
        with app.test_request_context("/"):
            g.structure = SimpleNamespace(siret=siret)
            for endpoint, name, values in cases:
                for value in IDS:
                    assert id_url(endpoint, name, value, **values) == url_for(endpoint, **{name: value}, **values)
            assert piece_url(5) == url_for("pieces.show", piece_id=5) == f"/s/{siret}/pieces/5"


def test_a_value_holding_the_marks_digits_or_no_integer_goes_through_url_for(app):
    with app.test_request_context("/"):
        g.structure = SimpleNamespace(siret="40000047700010")
        odd = {"action": str(_MARK)}
        assert id_url("dashboard.action_fields", "piece_id", 3, **odd) == url_for("dashboard.action_fields",
                                                                                   piece_id=3, **odd)
        assert id_url("dashboard.action_fields", "piece_id", True, action="x") == url_for(
            "dashboard.action_fields", piece_id=True, action="x")


def test_piece_link_parts_are_the_escaped_piece_url_around_the_id(app):
    for root in ("", "/chorus & co"):  # where the application is mounted: a script root to escape
        for siret in ("40000047700010", "12345678900011"):
            with app.test_request_context("/", environ_base={"SCRIPT_NAME": root}):
                g.structure = SimpleNamespace(siret=siret)
                before, after = piece_link_parts()
                for value in IDS:
                    assert f"{before}{value}{after}" == str(escape(url_for("pieces.show", piece_id=value)))
    assert piece_link_parts() is None  # outside a request: the writer falls back on piece_url


def test_nothing_is_kept_from_one_request_to_the_next(app):
    for siret in ("40000047700010", "12345678900011"):
        with app.test_request_context("/"):
            g.structure = SimpleNamespace(siret=siret)
            assert piece_url(9) == f"/s/{siret}/pieces/9"


def test_slug_url_is_url_for_for_every_article_inside_a_structure_and_outside(app):
    from chorus_chain import help_articles
    from chorus_chain.blueprints.help.views import help_url
    from chorus_chain.row_urls import _SLUG_MARK, slug_url

    slugs = [article.slug for article in help_articles.ARTICLES] + [_SLUG_MARK, "a-b-c", "x"]
    for siret in ("40000047700010", "12345678900011", None):
        with app.test_request_context("/"):
            if siret is not None:
                g.structure = SimpleNamespace(siret=siret)
            prefix = "help" if siret is None else "structure_help"
            for slug in slugs:
                expected = url_for(f"{prefix}.article", slug=slug)
                assert slug_url(f"{prefix}.article", "slug", slug) == expected
                assert help_url(slug) == expected
            assert help_url() == url_for(f"{prefix}.index")
            assert help_url(q="délai") == url_for(f"{prefix}.index", q="délai")


def test_a_slug_url_for_would_quote_goes_through_url_for(app):
    from chorus_chain.row_urls import slug_url

    with app.test_request_context("/"):
        g.structure = SimpleNamespace(siret="40000047700010")
        for slug in ("Délai de paiement", "a/b", "A", "x y", "", "-x"):
            assert slug_url("structure_help.article", "slug", slug) == url_for("structure_help.article", slug=slug)
