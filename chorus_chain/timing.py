"""What a request cost the server, in a `Server-Timing` header: opt-in (`CHORUS_TIMING=1`), for the benchmarks.

bench/dashboards.py measures pages from the outside (requests a second, latency); what it cannot see from there is
where a page's time goes on the server: the Python of the request (views, ORM, templates) or the database. With the
setting on, every response carries

    Server-Timing: cpu;dur=31.2, db;dur=4.1, sql;desc="23";dur=23, total;dur=40.5, worker;desc="4121"

- `cpu`: CPU time of the thread that served the request (`time.thread_time`, milliseconds): the application's own
  Python, psycopg's client side included, other threads' work excluded (gthread workers serve several at once);
- `db`: wall time spent inside the driver's `execute` (round trips and PostgreSQL's work), summed;
- `sql`: the number of statements (as `dur`, and in `desc`, for readers that keep only one of them);
- `total`: wall time from the start of the request to the header (the commit included, the body's sending not);
- `worker`: the process that served it (its pid). A client's keep-alive connection stays with the gunicorn worker
  that accepted it, so the clients of a benchmark split unevenly between workers (5 and 3 of 8): the benchmark reads
  the split, which decides how long a request waits for a thread of its worker.

Off by default: the header tells a stranger how long the database took, and the counters cost a little on every
statement. Nothing else changes when it is on.
"""
from __future__ import annotations

import os
import threading
import time

from flask import Flask, g

_local = threading.local()  # the statements of the request the current thread serves


def enabled(app: Flask) -> bool:
    return bool(app.config.get("CHORUS_TIMING"))


def install(app: Flask) -> None:
    """Count per request (before the other request hooks: its after_request runs last, so the commit is counted)."""
    from sqlalchemy import event

    from chorus_chain.extensions import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany) -> None:
        _local.started = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany) -> None:
        started = getattr(_local, "started", None)
        if started is None or getattr(_local, "statements", None) is None:
            return  # a statement outside a timed request (app start-up, a CLI command)
        _local.statements += 1
        _local.db_seconds += time.perf_counter() - started
        _local.started = None

    app.before_request(_start)
    app.after_request(_header)
    app.teardown_request(_stop)


def _start() -> None:
    _local.statements, _local.db_seconds = 0, 0.0
    g.timing_started = (time.perf_counter(), time.thread_time())


def _header(response):
    started = g.get("timing_started")
    if started is not None:
        response.headers["Server-Timing"] = server_timing(
            cpu=time.thread_time() - started[1], db=_local.db_seconds, statements=_local.statements,
            total=time.perf_counter() - started[0])
    return response


def _stop(exc) -> None:
    _local.statements = None


def server_timing(*, cpu: float, db: float, statements: int, total: float, worker: int | None = None) -> str:
    """The header's value, durations in milliseconds as the standard has them; `worker`: this process by default."""
    return (f"cpu;dur={cpu * 1000:.1f}, db;dur={db * 1000:.1f}, sql;desc=\"{statements}\";dur={statements}, "
            f"total;dur={total * 1000:.1f}, worker;desc=\"{os.getpid() if worker is None else worker}\"")


def parse(value: str | None) -> dict[str, float]:
    """{"cpu": ms, "db": ms, "sql": n, "total": ms} from a header this module wrote ({} if absent)."""
    figures = {}
    for part in (value or "").split(","):
        name, _, rest = part.strip().partition(";")
        for attribute in rest.split(";"):
            key, _, number = attribute.partition("=")
            if key.strip() == "dur" and name:
                try:
                    figures[name] = float(number)
                except ValueError:
                    pass
    return figures


def worker_of(value: str | None) -> int | None:
    """The pid of the process that served an answer, from a header this module wrote (None if absent)."""
    for part in (value or "").split(","):
        name, _, rest = part.strip().partition(";")
        if name == "worker":
            key, _, number = rest.partition("=")
            if key.strip() == "desc" and number.strip('"').isdigit():
                return int(number.strip('"'))
    return None
