"""PostgreSQL's CPU per statement of a page, as the application runs it (issue 20).

`page_cpu.py` gives a page's backend CPU as a whole; this splits it by statement: the application built in this
process (`page_cpu.make_app`: production settings, the role `chorus_app`, row-level security), each busy account of
the benchmark logged in, its page opened `--warmup` times (psycopg prepares a statement after five runs, PostgreSQL
keeps a generic plan after five more) then `--requests` times, and around each statement the CPU its connection's
backend ran (/proc/<pid>/schedstat, read before and after the execute: the server runs on this machine). Per account,
the median per statement, named by the application's function that ran it (as `explain_dashboards.py`), under the
plans the statements really run with — a statement marked `plan_cache.custom_plan` pays its parsing and planning
every time, the others run their cached plan —, which EXPLAIN does not show.

    .venv/bin/python bench/statement_cpu.py --database chorus_bench_100k --accounts titulaire moe
    .venv/bin/python bench/statement_cpu.py --database chorus_bench_1m --path "/s/{siret}/tableau-de-bord?tri=-montant"

Nothing is asserted; the database is read as it is (`--as-is`).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import traceback
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dashboards as bench  # noqa: E402
import dashboards_seed as seeding  # noqa: E402
import page_cpu  # noqa: E402


def caller() -> str:
    """The application's function that ran the statement (« board_reading.parties.offer_and_own »)."""
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace(os.sep, "/")
        if "/chorus_chain/" in path and not path.endswith(("/extensions.py", "/access.py", "/timing.py")):
            return path.split("/chorus_chain/", 1)[1].removesuffix(".py").replace("/", ".") + "." + frame.name
    return "?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", default="chorus_bench_100k")
    parser.add_argument("--accounts", nargs="*", default=list(seeding.BENCH_LOGINS))
    parser.add_argument("--path", default="/s/{siret}/tableau-de-bord", help="{siret}: the account's structure")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=12)
    args = parser.parse_args(argv)

    from sqlalchemy import event

    app = page_cpu.make_app(args.database)
    with app.app_context():
        from chorus_chain.extensions import db

        engine = db.engine
    started: dict[int, int] = {}
    request: dict[str, float] = defaultdict(float)

    def backend_ns(conn) -> int:
        pid = conn.connection.dbapi_connection.info.backend_pid
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, *args):
        started[id(conn)] = backend_ns(conn)

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, *args):
        request[caller()] += (backend_ns(conn) - started.pop(id(conn))) / 1e6

    sirets = bench._sirets(args.database)
    for key in args.accounts:
        email = seeding.BENCH_LOGINS.get(key, key)
        client = page_cpu.login(app, email)
        url = args.path.format(siret=sirets[email])
        for _ in range(args.warmup):
            client.get(url)
        per: dict[str, list[float]] = defaultdict(list)
        totals = []
        for _ in range(args.requests):
            request.clear()
            status = client.get(url).status_code
            if status != 200:
                raise SystemExit(f"{key} {url}: HTTP {status}")
            for name, ms in request.items():
                per[name].append(ms)
            totals.append(sum(request.values()))
        print(f"== {key} {args.database} {url}: backend CPU per request, median {statistics.median(totals):.2f} ms "
              f"({args.requests} requests, load {os.getloadavg()[0]:.1f})")
        for name, values in sorted(per.items(), key=lambda item: -statistics.median(item[1])):
            print(f"  {statistics.median(values):7.3f} ms  (min {min(values):6.3f})  ×{len(values) / args.requests:.0f}"
                  f"  {name}")


if __name__ == "__main__":
    main()
