"""The articles: one Markdown file each under `articles/`, with a TOML header between `+++` lines.

    +++
    title = "Changer ou retrouver son mot de passe"
    section = "compte"
    order = 30
    keywords = ["mot de passe oublié", "réinitialiser"]
    related = ["se-connecter"]
    +++
    Premier paragraphe : la réponse en deux phrases (c'est le résumé montré dans les résultats).

The file name is the slug (its address: /aide/<slug>). Everything is checked when the library loads — header keys,
section, related articles, every link target — so a broken article stops the application and the tests at once,
never a reader. Articles are code: reviewed, versioned and deployed with the product that they describe.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from chorus_chain.help_articles import markup
from chorus_chain.help_articles.pages import PAGES

ARTICLES_DIR = Path(__file__).resolve().parent / "articles"

# The sections of the help centre, in the order of a user's first weeks.
SECTIONS: dict[str, str] = {
    "compte": "Votre compte",
    "structure": "Votre structure, ses utilisateurs et ses services",
    "marche": "Le marché, les co-traitants et les sous-traitants",
    "pieces": "Déposer une pièce : les cadres et leurs champs",
    "suivi": "Suivre et traiter les pièces",
    "argent": "Travaux : décomptes, états d'acompte et argent du marché",
    "fin": "Fin du marché : décompte général",
    "documents": "Documents et facturation électronique",
    "support": "Support",
}

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_KEYS = {"title", "section", "order", "keywords", "related"}


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    section: str
    order: int
    keywords: tuple[str, ...]
    related: tuple[str, ...]
    parsed: markup.Parsed

    @property
    def text(self) -> str:
        """The body as plain text (no markup), for search and snippets."""
        return self.parsed.text

    @property
    def summary(self) -> str:
        """The first paragraph: the short answer."""
        return self.parsed.summary

    @property
    def headings(self) -> tuple[str, ...]:
        return self.parsed.headings

    @property
    def section_title(self) -> str:
        return SECTIONS[self.section]


def parse_article(slug: str, source: str) -> Article:
    """One article from its file's text; ValueError saying what is wrong."""
    if not _SLUG.match(slug):
        raise ValueError(f"{slug}: a slug is lower-case letters, digits and hyphens")
    parts = source.split("+++\n", 2)
    if len(parts) != 3 or parts[0].strip():
        raise ValueError(f"{slug}: the file must start with a +++ header")
    header = tomllib.loads(parts[1])
    unknown = set(header) - _KEYS
    if unknown or "title" not in header or "section" not in header:
        raise ValueError(f"{slug}: header needs title and section, knows only {sorted(_KEYS)} (got {sorted(header)})")
    if header["section"] not in SECTIONS:
        raise ValueError(f"{slug}: unknown section {header['section']!r}")
    parsed = markup.parse(parts[2])
    if not parsed.summary:
        raise ValueError(f"{slug}: the body must start with a paragraph (the summary)")
    return Article(slug=slug, title=header["title"], section=header["section"], order=int(header.get("order", 100)),
                   keywords=tuple(header.get("keywords", ())), related=tuple(header.get("related", ())),
                   parsed=parsed)


def check_links(articles: dict[str, Article]) -> None:
    """Every link and related article points at something that exists; ValueError otherwise."""
    for article in articles.values():
        for target in article.parsed.links:
            if target.startswith(markup.PAGE) and target[len(markup.PAGE):] in PAGES:
                continue
            if target.startswith(markup.ARTICLE) and target[len(markup.ARTICLE):] in articles:
                continue
            raise ValueError(f"{article.slug}: link to {target!r} is neither page:<key of PAGES> nor aide:<slug>")
        for slug in article.related:
            if slug not in articles or slug == article.slug:
                raise ValueError(f"{article.slug}: related article {slug!r} does not exist")


def load(directory: Path = ARTICLES_DIR) -> tuple[Article, ...]:
    """Every article, in section order, then in the order of its header (`order`, small first), then by title."""
    articles = {path.stem: parse_article(path.stem, path.read_text(encoding="utf-8"))
                for path in sorted(directory.glob("*.md"))}
    check_links(articles)
    order = list(SECTIONS)
    return tuple(sorted(articles.values(), key=lambda a: (order.index(a.section), a.order, a.title.lower())))
