"""Settings from the environment, with an embedded default that needs nothing installed.

Embedded default (what `make run` uses): SQLite under ``instance/``, jobs run in-process, e-mails written to the log
and to the local outbox page. Production sets DATABASE_URL (PostgreSQL), REDIS_URL, SECRET_KEY and SMTP_*.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(development: bool) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if not development:
        raise RuntimeError("SECRET_KEY must be set outside CHORUS_ENV=development")
    # The embedded default keeps a random key on disk so that sessions survive a restart of `make run`.
    INSTANCE.mkdir(exist_ok=True)
    path = INSTANCE / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        INSTANCE.mkdir(exist_ok=True)
        return f"sqlite:///{INSTANCE / 'chorus.db'}"
    # Heroku-style URLs name the driver "postgres"; we use psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load() -> dict:
    """Build the configuration mapping from the environment."""
    env = os.environ.get("CHORUS_ENV", "production")
    development = env == "development"
    redis_url = os.environ.get("REDIS_URL") or None
    smtp_host = os.environ.get("SMTP_HOST") or None
    return {
        "CHORUS_ENV": env,
        "SECRET_KEY": _secret_key(development),
        "SQLALCHEMY_DATABASE_URI": database_url(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "PG_JIT": _bool("PG_JIT", False),  # see extensions.tune_postgresql
        # A request that wrote nothing ends with COMMIT, not ROLLBACK: psycopg keeps its prepared statements (read_requests).
        "KEEP_PREPARED_STATEMENTS": _bool("KEEP_PREPARED_STATEMENTS", True),
        "CHORUS_TIMING": _bool("CHORUS_TIMING", False),  # a Server-Timing header on every response (timing.py)
        "REDIS_URL": redis_url,
        # Mail: SMTP when configured; otherwise the log, plus the local outbox page in development.
        "SMTP_HOST": smtp_host,
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "587")),
        "SMTP_USER": os.environ.get("SMTP_USER") or None,
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD") or None,
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", True),
        "SMTP_TIMEOUT": float(os.environ.get("SMTP_TIMEOUT", "15")),  # a hanging server fails the try, not the worker
        # Durable jobs (jobs/outbox.py): tries, backoff (doubling, capped), how long a document may show no sign of
        # life before asking again starts a new job, how long a job waits out a database restart to record what it did.
        "OUTBOX_MAX_ATTEMPTS": int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "8")),
        "OUTBOX_BACKOFF_SECONDS": float(os.environ.get("OUTBOX_BACKOFF_SECONDS", "30")),
        "OUTBOX_BACKOFF_MAX": float(os.environ.get("OUTBOX_BACKOFF_MAX", "3600")),
        "DOCUMENT_STALL_SECONDS": int(os.environ.get("DOCUMENT_STALL_SECONDS", "90")),
        # One lease for every kind of job instead of each kind's own (jobs.queue.JOBS); the fault tests shorten it.
        "OUTBOX_LEASE_SECONDS": int(os.environ["OUTBOX_LEASE_SECONDS"]) if os.environ.get("OUTBOX_LEASE_SECONDS")
        else None,
        # Webhooks: how long a receiver may take to answer one delivery (a slow one fails the try, not the worker).
        "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10")),
        "JOB_DB_RETRY_SECONDS": float(os.environ.get("JOB_DB_RETRY_SECONDS", "120")),
        "CLOCK_INTERVAL_SECONDS": float(os.environ.get("CLOCK_INTERVAL_SECONDS", "60")),
        # Deadline sweepers at once in the clock's tick (jobs.sweepers): two keep both cores of the production
        # machine busy, one's Python beside the other's statements (bench/deadline_sweep.py --sweepers).
        "CLOCK_SWEEPERS": int(os.environ.get("CLOCK_SWEEPERS", "2")),
        # How long a structure's payment habits are kept (tresorerie.habits_cache); 0: recomputed on every request.
        "HABITS_CACHE_SECONDS": float(os.environ.get("HABITS_CACHE_SECONDS", "600")),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "chorus-chain <ne-pas-repondre@chorus-chain.invalid>"),
        "OUTBOX_PAGE": development,
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        # Cookies: Secure everywhere but the embedded development server on plain http://127.0.0.1.
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not development),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", not development),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 12 * 3600,
        # Login sessions are records on the server (operations.sessions): a session lasts SESSION_HOURS, « se
        # souvenir de moi » REMEMBER_DAYS — the application's lifetime, not flask-login's 365 days — and logout
        # ends both at once.
        "SESSION_HOURS": int(os.environ.get("SESSION_HOURS", "12")),
        "REMEMBER_DAYS": int(os.environ.get("REMEMBER_DAYS", "14")),
        "REMEMBER_COOKIE_DURATION": int(os.environ.get("REMEMBER_DAYS", "14")) * 24 * 3600,
        # CSRF tokens are bound to the session and do not expire on their own: a dashboard left open all day keeps
        # working while its session lives; an expired session gets a clear message, never a silent failure.
        "WTF_CSRF_TIME_LIMIT": None,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis down: login keeps working, limited per process in memory until Redis is back (degraded.py); short
        # timeouts so that a Redis that does not answer costs a login one second, not five.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {},
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        # A password change or a bank-details change needs a login younger than this (seconds).
        "FRESH_LOGIN_SECONDS": int(os.environ.get("FRESH_LOGIN_SECONDS", "900")),
        "MAX_CONTENT_LENGTH": 130 * 1024 * 1024,
        # Live chat (issue 18): the agents' hours (domain.agent_hours: « lun-ven 09:00-18:00 », « toujours »,
        # « jamais »); how long one server-sent-events response stays open before the browser reconnects (seconds),
        # and how often it reads the conversation.
        "CHAT_HOURS": os.environ.get("CHAT_HOURS", "lun-ven 09:00-18:00"),
        "CHAT_STREAM_SECONDS": float(os.environ.get("CHAT_STREAM_SECONDS", "25")),
        "CHAT_POLL_SECONDS": float(os.environ.get("CHAT_POLL_SECONDS", "1")),
    }
