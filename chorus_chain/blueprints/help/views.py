"""The help centre: its articles and their search, public at /aide and, inside a structure, at /s/<siret>/aide (the
same articles, with the structure's menu, and links that go straight to that structure's pages).

An article links to the product by page key (`help_articles.pages`); this module turns a key into an address for the
reader: straight to the page when it can, otherwise through « Pour quelle structure ? » (`go`) and « Pour quel
marché ? » (`marche_go`), which only ever offer the reader's own structures and that structure's own marchés.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from chorus_chain import help_articles
from chorus_chain.help_articles import BY_SLUG, markup
from chorus_chain.help_articles.pages import MARCHE, PAGES, PUBLIC, STRUCTURE, Page
from chorus_chain.help_articles.search_index import MAX_QUERY
from chorus_chain.layout_urls import layout_url
from chorus_chain.operations import marches as marche_ops
from chorus_chain.operations import structures as structure_ops
from chorus_chain.row_urls import slug_url
from chorus_chain.tenancy import require_right, tenant_blueprint

bp = Blueprint("help", __name__, url_prefix="/aide")
structure_bp = tenant_blueprint("structure_help", __name__, url_prefix="/aide")


def _in_structure() -> bool:
    return g.get("structure") is not None


@bp.app_template_global("help_url")
def help_url(slug: str | None = None, **args) -> str:
    """The help centre (or one of its articles) where the reader is: inside the current structure when there is one,
    so that the structure's menu stays on screen. Built from one `url_for` per request and endpoint (`layout_url`,
    `slug_url`): every page's layout links to the help, the index to each article."""
    prefix = "structure_help" if _in_structure() else "help"
    if slug is None:
        return layout_url(f"{prefix}.index", **args) if not args else url_for(f"{prefix}.index", **args)
    return slug_url(f"{prefix}.article", "slug", slug, **args)


def resolver(in_structure: bool) -> Callable[[str], str]:
    """The address of an article's link target ("page:<key>" or "aide:<slug>") for a reader inside a structure or
    on the public help centre."""

    def resolve(target: str) -> str:
        if target.startswith(markup.ARTICLE):
            return help_url(target[len(markup.ARTICLE):])
        key = target[len(markup.PAGE):]
        page = PAGES[key]
        if page.scope == PUBLIC:
            return url_for(page.endpoint)
        if not in_structure:
            return url_for("help.go", page=key)
        if page.scope == STRUCTURE:
            return url_for(page.endpoint)
        return url_for("structure_help.marche_go", page=key)

    return resolve


def _index_page():
    query = " ".join(request.args.get("q", "").split())[:MAX_QUERY]
    hits = help_articles.search(query, limit=None) if query else None
    return render_template("help/index.html", query=query, hits=hits, sections=help_articles.by_section())


def _article_page(slug: str):
    article = BY_SLUG.get(slug)
    if article is None:
        abort(404)
    body = markup.render(article.parsed, resolver(_in_structure()))
    related = [BY_SLUG[s] for s in article.related]
    siblings = [a for a in help_articles.ARTICLES if a.section == article.section and a.slug != slug]
    return render_template("help/article.html", article=article, body=body, related=related, siblings=siblings)


# --- Public: /aide ----------------------------------------------------------------------------------------------------


@bp.get("/")
def index():
    return _index_page()


@bp.get("/<slug>")
def article(slug: str):
    return _article_page(slug)


@bp.get("/aller/<page>")
@login_required
def go(page: str):
    """From the public help centre to a page of one of the reader's structures: straight there when they have one
    structure, otherwise « Pour quelle structure ? »."""
    target = PAGES.get(page)
    if target is None:
        abort(404)
    if target.scope == PUBLIC:
        return redirect(url_for(target.endpoint))
    structures = [s for s, membership in structure_ops.memberships_of(current_user) if membership.status == "approved"]
    links = [(s.name, s.siret_display, _structure_target(target, page, s.siret)) for s in structures]
    if len(links) == 1:
        return redirect(links[0][2])
    return render_template("help/go.html", target=target, question="Pour quelle structure ?", links=links)


def _structure_target(target: Page, key: str, siret: str) -> str:
    if target.scope == MARCHE:
        return url_for("structure_help.marche_go", siret=siret, page=key)
    return url_for(target.endpoint, siret=siret)


# --- Inside a structure: /s/<siret>/aide --------------------------------------------------------------------------


@structure_bp.get("/", endpoint="index")
def structure_index():
    return _index_page()


@structure_bp.get("/<slug>", endpoint="article")
def structure_article(slug: str):
    return _article_page(slug)


@structure_bp.get("/aller/<page>")
@require_right("travaux", "consultation")
def marche_go(page: str):
    """To a page of one of the structure's marchés: straight there when it has one marché, otherwise « Pour quel
    marché ? » listing only the marchés where it holds a confirmed role."""
    target = PAGES.get(page)
    if target is None:
        abort(404)
    if target.scope != MARCHE:
        return redirect(url_for(target.endpoint))
    marches = [marche for marche, _ in marche_ops.marches_of(g.structure)]
    links = [(m.reference, m.objet, url_for(target.endpoint, marche_id=m.id)) for m in marches]
    if len(links) == 1:
        return redirect(links[0][2])
    return render_template("help/go.html", target=target, question="Pour quel marché ?", links=links)
