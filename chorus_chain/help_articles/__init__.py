"""The help centre: its articles (Markdown files under `articles/`, see `library`), the product pages they link to
(`pages`), and its French search (`search_index`). Pure: no Flask, no database — the help pages and the assistant
(issue 18) use the same functions.

    from chorus_chain.help_articles import ARTICLES, BY_SLUG, search
    for hit in search("retenu de garanti"):
        hit.article.slug, hit.score, hit.snippet, hit.snippet_html
"""
from __future__ import annotations

from functools import lru_cache

from chorus_chain.help_articles.library import SECTIONS, Article, load

ARTICLES: tuple[Article, ...] = load()
BY_SLUG: dict[str, Article] = {article.slug: article for article in ARTICLES}


@lru_cache(maxsize=1)
def _index():
    from chorus_chain.help_articles.search_index import HelpIndex

    return HelpIndex(ARTICLES)


def search(query: str, limit: int | None = 10):
    """The articles that answer `query`, best first (a list of `search_index.Hit`): article, score, coverage, snippet
    (plain text) and snippet_html (escaped, matched words in <mark>). Empty for an empty or meaningless query."""
    return _index().search(query, limit)


def by_section() -> list[tuple[str, str, list[Article]]]:
    """(section key, section title, its articles), in the help centre's order, empty sections left out."""
    return [(key, title, [a for a in ARTICLES if a.section == key]) for key, title in SECTIONS.items()
            if any(a.section == key for a in ARTICLES)]


__all__ = ["ARTICLES", "BY_SLUG", "SECTIONS", "Article", "by_section", "search"]
