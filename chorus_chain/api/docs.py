"""/api/v1/docs: the OpenAPI description made readable (Swagger UI, vendored: static/vendor/swagger-ui-*)."""
from __future__ import annotations

from flask import Blueprint, render_template

from chorus_chain.web import CONTENT_SECURITY_POLICY

bp = Blueprint("api_docs", __name__, url_prefix="/api/v1")
# Swagger UI sets style attributes from its scripts: this page alone allows inline styles (never inline scripts).
DOCS_POLICY = CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


@bp.get("/docs")
def page():
    response = render_template("api/docs.html")
    return response, 200, {"Content-Security-Policy": DOCS_POLICY}
