"""An application context for job functions, and `durably` for the steps that must outlive a database restart.

An application context for job functions: the caller's when there is one (inline jobs, tests), else one app
created once per worker process (rq forks a work horse per job; the parent's app is inherited)."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from typing import TypeVar

from flask import has_app_context

log = logging.getLogger(__name__)
T = TypeVar("T")

_app = None


def _worker_app():
    global _app
    if _app is None:
        from chorus_chain import create_app

        _app = create_app()
    return _app


@contextmanager
def job_context():
    if has_app_context():
        with nullcontext():
            yield
    else:
        with _worker_app().app_context():
            yield


def durably(step: Callable[[], T], *, seconds: float | None = None) -> T:
    """Run `step` (which commits) until the database takes it, for up to JOB_DB_RETRY_SECONDS (default 120 s).

    Why: a job that did something outside the database (an e-mail handed to SMTP) must record it even across a
    PostgreSQL restart, or its retry would do it again. Only a lost connection is waited out (`DBAPIError` whose
    connection is invalidated, `OperationalError`); any other error is a bug and raises at once."""
    from flask import current_app
    from sqlalchemy.exc import DBAPIError, OperationalError

    from chorus_chain.extensions import db

    limit = seconds if seconds is not None else float(current_app.config.get("JOB_DB_RETRY_SECONDS", 120))
    deadline = time.monotonic() + limit
    pause = 0.25
    while True:
        try:
            return step()
        except (OperationalError, DBAPIError) as exc:
            if not (isinstance(exc, OperationalError) or exc.connection_invalidated) or time.monotonic() > deadline:
                raise
            log.warning("database unavailable, retrying in %.1f s: %s", pause, exc.__class__.__name__)
            try:
                db.session.rollback()
            except Exception:  # the connection is gone: the session is reset below anyway
                pass
            db.session.remove()
            time.sleep(pause)
            pause = min(pause * 2, 5.0)


def describe_error(exc: BaseException) -> str:
    """A job's error as operators read it: an SMTP server's own words when it answered (« SMTP 451 4.3.0 Service
    momentanément indisponible »), else the exception's type and message."""
    import smtplib

    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"SMTP {exc.smtp_code} {text}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]
