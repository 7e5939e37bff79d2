"""The articles' Markdown: parsed once (markdown-it-py, CommonMark, raw HTML off), rendered per request.

An article links to the product with `[texte](page:<clé>)` (a page of `pages.PAGES`) and to another article with
`[texte](aide:<slug>)`. Nothing else is a valid link target: no raw HTML, no address outside the product, so every
link of the help centre is one the tests can follow. The renderer asks a `resolve(target)` callable for the real
address, which depends on where the reader is (inside a structure or on the public help centre).

French typography is applied to the text: a no-break space before « : » and inside « », a narrow one before
« ; ? ! », so that a colon never starts a line on a phone.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup, escape

PAGE = "page:"
ARTICLE = "aide:"

_NBSP, _NNBSP = "\u00a0", "\u202f"
_TYPO = ((re.compile(r" ([:])"), _NBSP + r"\1"), (re.compile(r" ([;?!])"), _NNBSP + r"\1"),
         (re.compile(r"« "), "«" + _NBSP), (re.compile(r" »"), _NBSP + "»"))


def _french_typography(state) -> None:
    for block in state.tokens:
        for child in block.children or ():
            if child.type == "text":
                for pattern, replacement in _TYPO:
                    child.content = pattern.sub(replacement, child.content)


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    md.core.ruler.push("french_typography", _french_typography)
    return md


_MD = _parser()


@dataclass(frozen=True)
class Parsed:
    """An article's body, parsed: its tokens, its plain text without the headings (for search and snippets), its
    headings, its first paragraph (the summary) and its link targets."""

    tokens: tuple[Token, ...]
    text: str
    headings: tuple[str, ...]
    summary: str
    links: tuple[str, ...]


def parse(source: str) -> Parsed:
    tokens = _MD.parse(source)
    blocks: list[str] = []
    headings: list[str] = []
    links: list[str] = []
    summary = ""
    in_heading = False
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "inline":
            plain = _inline_text(token)
            if in_heading:  # searched in a field of its own; left out of the text, whose excerpts read as prose
                headings.append(plain)
            else:
                blocks.append(plain)
                if not summary and i > 0 and tokens[i - 1].type == "paragraph_open" and tokens[i - 1].level == 0:
                    summary = plain
            links += [child.attrs["href"] for child in token.children or () if child.type == "link_open"]
    return Parsed(tuple(tokens), " ".join(b for b in blocks if b), tuple(headings), summary, tuple(links))


def _inline_text(token: Token) -> str:
    parts = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def render(parsed: Parsed, resolve: Callable[[str], str]) -> Markup:
    """The body as HTML. `resolve(target)` turns "page:…" / "aide:…" into an address (already checked at load)."""
    return Markup(_MD.renderer.render(list(parsed.tokens), _MD.options, {"resolve": resolve}))


def _link_open(self, tokens, idx, options, env):
    href = str(tokens[idx].attrs.get("href", ""))
    return f'<a href="{escape(env["resolve"](href))}">'


def _table_open(self, tokens, idx, options, env):
    return '<div class="help-table" tabindex="0"><table class="table">\n'


def _table_close(self, tokens, idx, options, env):
    return "</table></div>\n"


_MD.add_render_rule("link_open", _link_open)
_MD.add_render_rule("table_open", _table_open)
_MD.add_render_rule("table_close", _table_close)
