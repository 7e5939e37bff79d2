"""Home, health check, and the development outbox page."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select, text

from chorus_chain.extensions import db
from chorus_chain.read_requests import reads_only
from chorus_chain.models import MailMessage
from chorus_chain.operations import mail as mail_ops

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
    """State of the database, Redis and the clock, as JSON; 503 when one is down. What waits is reported too (the
    outbox's pending and failed jobs): an operator's signal, not a failure of the service."""
    checks = {}
    try:
        db.session.execute(reads_only(text("SELECT 1")))  # keeps the request's COMMIT (read_requests)
        checks["database"] = {"ok": True, "dialect": db.engine.dialect.name}
    except Exception as exc:  # the point of a health check is to report, not to raise
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    if checks["database"]["ok"]:
        checks.update(_jobs_health())
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
    down = sorted(name for name, check in checks.items() if not check["ok"])
    return jsonify(status="ok" if ok else "degraded", down=down, checks=checks), 200 if ok else 503


def _jobs_health() -> dict:
    """The clock (late when its last tick is older than five intervals; never run: reported, not failed — the
    embedded default has no clock process) and the outbox."""
    from datetime import timedelta

    from sqlalchemy import func

    from chorus_chain.models import ClockState, OutboxJob
    from chorus_chain.models.base import utcnow

    now = utcnow()
    clock = db.session.get(ClockState, "deadlines")
    late_after = timedelta(seconds=5 * float(current_app.config.get("CLOCK_INTERVAL_SECONDS", 60)))
    if clock is None:
        clock_check = {"ok": True, "ran_at": None}
    else:
        clock_check = {"ok": now - clock.ran_at <= late_after, "ran_at": clock.ran_at.isoformat(),
                       "swept_to": clock.swept_to.isoformat()}
    counts = dict(db.session.execute(select(OutboxJob.status, func.count()).where(OutboxJob.status != "done")
                                     .group_by(OutboxJob.status)).all())
    overdue = db.session.scalar(select(func.count()).select_from(OutboxJob).where(
        OutboxJob.status == "pending", OutboxJob.available_at < now - timedelta(minutes=10)))
    return {"clock": clock_check,
            "outbox": {"ok": True, "pending": counts.get("pending", 0), "failed": counts.get("failed", 0),
                       "overdue": overdue}}


@bp.get("/dev/outbox")
def outbox():
    """The e-mails the embedded default did not send (development only: they hold activation links)."""
    if not current_app.config.get("OUTBOX_PAGE"):
        abort(404)
    mails = db.session.scalars(select(MailMessage).order_by(MailMessage.id.desc()).limit(50)).all()
    return render_template("core/outbox.html", mails=[mail_ops.rendered(mail) for mail in mails])
