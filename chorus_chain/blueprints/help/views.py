"""The help centre: public articles and their search (/aide). Not a tenant area: anyone, even anonymous, reads it."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from chorus_chain.help_articles import ARTICLES, BY_SLUG
from chorus_chain.help_articles.search import MAX_QUERY, search

bp = Blueprint("help", __name__, url_prefix="/aide")


@bp.get("/")
def index():
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    results = search(query) if query else None
    return render_template("help/index.html", query=query, results=results, articles=ARTICLES)


@bp.get("/<slug>")
def article(slug: str):
    found = BY_SLUG.get(slug)
    if found is None:
        abort(404)
    return render_template("help/article.html", article=found, articles=ARTICLES)
