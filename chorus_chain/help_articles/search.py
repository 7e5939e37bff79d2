"""Search the help centre, ranked by relevance.

PostgreSQL: full-text search in French over the articles, given to the query as a VALUES list (the articles are code,
not rows: nothing to migrate or seed). Title, keywords and body are weighted A, B, C and ranked by `ts_rank`.
Accents are folded in Python on both sides ("decompte" finds "décompte") since the `unaccent` extension may be
missing. When full-text search finds nothing (a prefix, a typo), and on SQLite, the scored word match is used.
"""
from __future__ import annotations

from sqlalchemy import text

from chorus_chain.extensions import db
from chorus_chain.help_articles import ARTICLES, BY_SLUG, Article, fold, simple_scores

MAX_QUERY = 200


def _fts(query: str) -> list[Article]:
    params: dict[str, str] = {"q": fold(query)}
    rows = []
    for i, article in enumerate(ARTICLES):
        rows.append(f"(:s{i}, :t{i}, :k{i}, :b{i})")
        params.update({f"s{i}": article.slug, f"t{i}": fold(article.title), f"k{i}": fold(article.keywords),
                       f"b{i}": fold(article.text)})
    sql = text(
        f"WITH a(slug, title, keywords, body) AS (VALUES {', '.join(rows)}), "
        "d AS (SELECT slug, setweight(to_tsvector('french', title), 'A') "
        "|| setweight(to_tsvector('french', keywords), 'B') "
        "|| setweight(to_tsvector('french', body), 'C') AS doc FROM a), "
        "q AS (SELECT websearch_to_tsquery('french', :q) AS query) "
        "SELECT slug, ts_rank(doc, query) AS rank FROM d, q WHERE doc @@ query ORDER BY rank DESC, slug")
    return [BY_SLUG[slug] for slug, _ in db.session.execute(sql, params).all()]


def search(query: str) -> list[Article]:
    query = (query or "").strip()[:MAX_QUERY]
    if not query:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        found = _fts(query)
        if found:
            return found
    return [article for article, _ in simple_scores(query)]
