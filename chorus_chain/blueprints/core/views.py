"""Home, health check, and the development outbox page."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select, text

from chorus_chain.extensions import db
from chorus_chain.models import MailMessage

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    if current_user.is_authenticated:
        from chorus_chain.blueprints.auth.views import landing

        return redirect(landing(current_user))
    return render_template("core/home.html")


@bp.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/healthz")
def healthz():
    """State of the database and of Redis, as JSON; 503 when a configured dependency is down."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "dialect": db.engine.dialect.name}
    except Exception as exc:  # the point of a health check is to report, not to raise
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    if current_app.config.get("REDIS_URL"):
        from chorus_chain.jobs.queue import redis_connection

        try:
            redis_connection().ping()
            checks["redis"] = {"ok": True}
        except Exception as exc:
            checks["redis"] = {"ok": False, "error": type(exc).__name__}
    else:
        checks["redis"] = {"ok": True, "mode": "inline jobs (no REDIS_URL)"}
    ok = all(c["ok"] for c in checks.values())
    return jsonify(status="ok" if ok else "degraded", checks=checks), 200 if ok else 503


@bp.get("/dev/outbox")
def outbox():
    """The e-mails the embedded default did not send (development only: they hold activation links)."""
    if not current_app.config.get("OUTBOX_PAGE"):
        abort(404)
    mails = db.session.scalars(select(MailMessage).order_by(MailMessage.id.desc()).limit(50)).all()
    return render_template("core/outbox.html", mails=mails)
