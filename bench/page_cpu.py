"""Profile: the CPU the application itself spends per request on the dashboards, against /healthz.

`bench/dashboards.py` measures throughput under load; once the SQL is fast, what is left is Python (templates, forms,
ORM work, formatting). This script measures that part alone, in one process, without a server:

1. a seeded PostgreSQL database — the benchmark's world (`bench/dashboards_seed.py`): by default its own database
   `chorus_pagecpu`, seeded with `--pieces` pieces if it has none (`--database chorus_bench` reads i20-bench's, kept);
2. the application built in this process as gunicorn builds it (`app.py`: `create_app`, then the process frozen
   out of the collector's full collections; production settings, the ordinary role `chorus_app` so that
   row-level security applies, as under gunicorn) and Flask's test client, logged in through the real login form
   as each busy account of the benchmark (titulaire, maître d'œuvre, maître d'ouvrage, sous-traitant);
3. per account and page, `--requests` requests after a warm-up: `time.thread_time()` per request (the CPU of this
   thread: Python, the driver, not PostgreSQL's work), the wall time and the number of SQL statements; then one
   cProfile pass per page (all accounts) whose top functions say where the CPU goes.

It reports the median and p90 CPU per request of each page and its ratio to /healthz's (the application's floor:
WSGI, session, a database round trip). Not a test: nothing asserts on the figures.

    .venv/bin/python bench/page_cpu.py                          # seeds chorus_pagecpu (20 000 pieces) if empty
    .venv/bin/python bench/page_cpu.py --database chorus_bench  # i20-bench's world, as it is
    .venv/bin/python bench/page_cpu.py --requests 50 --top 30 --json bench/results/page_cpu.json
"""
from __future__ import annotations

import argparse
import cProfile
import html
import io
import json
import os
import pstats
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dashboards as bench  # noqa: E402
import dashboards_seed as seeding  # noqa: E402

DATABASE = "chorus_pagecpu"

# name → (path, HTMX request?). {siret}: the account's structure. The Tableau de bord is measured as a whole page,
# filtered, on a later page and as the fragment its filters and sort links fetch. Two pages whose own content is next
# to nothing give the floor every logged-in page pays before its content: `aide` (the structure's help index: the
# session, the user loader, the tenant switch, the layout — top bar, bell, menus — around a static list of articles)
# and `cloche` (the bell's fragment, polled every minute: the same without the layout). `tdb_htmx_p3` is the list's
# third page as its fragment: the keyset list has no page number (`?page=3` showed the first page), so the page is
# reached as a user reaches it, by following « Suivant » (rel="next") twice from the first (`DEEP`).
PAGES = {
    "healthz": ("/healthz", False),
    "aide": ("/s/{siret}/aide/", False),
    "cloche": ("/s/{siret}/notifications/cloche", True),
    "synthese": ("/s/{siret}/synthese", False),
    "synthese_htmx": ("/s/{siret}/synthese?page=2", True),
    "tableau_de_bord": ("/s/{siret}/tableau-de-bord", False),
    "tdb_filtre": ("/s/{siret}/tableau-de-bord?status=deposee&tri=montant", False),
    "tdb_htmx_p3": ("/s/{siret}/tableau-de-bord?tri=-date", True),
    "notifications": ("/s/{siret}/tableau-de-bord/notifications", True),
}


# page → « Suivant » links followed from its path before measuring (per account: each list has its own cursors).
DEEP = {"tdb_htmx_p3": 2}


def follow_next(client, path: str, times: int, htmx: bool) -> str:
    """The path reached from `path` by following its « suivant » link (rel="next") `times` times, as
    `bench/dashboards.py` reaches its deep page; stops (and says so) where a page has none."""
    for followed in range(times):
        body = client.get(path, headers={"HX-Request": "true"} if htmx else {}).get_data(as_text=True)
        link = bench.NEXT_LINK.search(body)
        href = re.search(r'\bhref="([^"]+)"', link.group(0)) if link else None
        if href is None:
            print(f"{path}: no « suivant » link after {followed} pages: that page is measured", file=sys.stderr)
            return path
        path = urljoin(path, html.unescape(href.group(1)))
    return path


def url_of(name: str, client, siret: str) -> str:
    """The URL of a page for an account: its path with the account's structure, deep pages followed to."""
    path, htmx = PAGES[name]
    url = path.format(siret=siret)
    return follow_next(client, url, DEEP[name], htmx) if name in DEEP else url


@dataclass
class Sample:
    cpu_ms: list[float] = field(default_factory=list)
    pg_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    bytes: int = 0

    def summary(self) -> dict:
        def pct(values, p):
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))] if ordered else None

        return {"n": len(self.cpu_ms), "cpu_ms_median": statistics.median(self.cpu_ms) if self.cpu_ms else None,
                "cpu_ms_p90": pct(self.cpu_ms, 0.9),
                "pg_ms_median": statistics.median(self.pg_ms) if self.pg_ms else None, "wall_ms_median": statistics.median(self.wall_ms)
                if self.wall_ms else None, "statements": max(self.statements) if self.statements else None,
                "status": self.status, "bytes": self.bytes // max(len(self.cpu_ms), 1)}


def prepare_database(database: str, pieces: int, as_is: bool = False) -> None:
    if as_is:  # a shared database others read: neither migrated from this tree nor given a read model
        return
    if bench._has_pieces(database):
        bench.migrate(database)  # a kept database follows the schema
        _build_read_model(database)
        return
    if database == bench.DATABASE:
        raise SystemExit(f"{database} has no pieces: seed it with bench/dashboards.py --keep")
    sizes = seeding.Sizes(pieces=pieces)
    seeding.check_sizes(sizes)
    started = time.perf_counter()
    bench.create_database(database)
    bench.migrate(database)
    seeding.seed(bench._admin_url_for(database), sizes)
    print(f"seeded {database} ({pieces} pieces) in {time.perf_counter() - started:.0f} s", flush=True)
    _build_read_model(database)


def _build_read_model(database: str) -> None:
    """The dashboards read board_row and board_count (issue 20): a world seeded without them shows empty lists and
    panels, and its figures say nothing of the pages (bench/dashboards.py builds it the same way)."""
    if bench._read_model_empty(database):
        recompute = bench.recompute_read_model(database)
        seeding.vacuum_analyze(bench._admin_url_for(database))
        print(f"{database}: read model built in {recompute['seconds']:.0f} s", flush=True)


def make_app(database: str):
    """The application gunicorn serves: `app.py`'s, built by importing it (after the environment is set), so that
    what it does once per process is measured too — `gc.freeze()` of what the process keeps for life, without which
    the young collections' survivors and every full collection traverse some 300 000 more objects."""
    os.environ.update(bench._app_env(database, bench._redis_or_none()))
    import app as wsgi  # noqa: PLC0415 — the repository's root is on sys.path; the environment must come first

    return wsgi.app


def login(app, email: str):
    client = app.test_client()
    page = client.get("/connexion")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
    data = {"email": email, "password": seeding.BENCH_PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    answer = client.post("/connexion", data=data)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"login of {email} failed: HTTP {answer.status_code}")
    return client


class StatementCounter:
    def __init__(self, engine):
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *args, **kwargs):
        self.count += 1


class BackendCpu:
    """PostgreSQL's own CPU for the application's connections, when the server runs on this machine: each connection
    is a backend process, and /proc/<pid>/schedstat gives the CPU time it ran, in nanoseconds. On two shared cores a
    page pays its statements twice — the driver's side (in `thread_time`) and the backend's (here) — and the goal's
    budget (about 3 × /healthz) counts both. None when the backends' /proc entries are not readable (a remote
    server)."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.pids: set[int] = set()
        event.listen(engine, "checkout", self._checked_out)

    def _checked_out(self, dbapi_connection, record, proxy) -> None:
        pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
        if pid:
            self.pids.add(pid)

    def nanoseconds(self) -> int | None:
        total, seen = 0, False
        for pid in self.pids:
            try:
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
                seen = True
            except (OSError, ValueError, IndexError):
                continue  # a backend gone (its connection recycled) or not ours to read
        return total if seen else None


def hit(client, path: str, htmx: bool):
    headers = {"HX-Request": "true"} if htmx else {}
    cpu, wall = time.thread_time(), time.perf_counter()
    answer = client.get(path, headers=headers)
    body = answer.get_data()
    return (time.thread_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000, answer.status_code, len(body)


def run(args) -> dict:
    prepare_database(args.database, args.pieces, args.as_is)
    app = make_app(args.database)
    with app.app_context():
        from chorus_chain.extensions import db

        counter = StatementCounter(db.engine)
        backends = BackendCpu(db.engine)
    sirets = bench._sirets(args.database)
    accounts = {key: (email, sirets[email]) for key, email in seeding.BENCH_LOGINS.items() if email in sirets}
    clients = {key: login(app, email) for key, (email, _siret) in accounts.items()}
    pages = {name: PAGES[name] for name in (args.pages or PAGES)}
    results: dict[str, dict[str, Sample]] = {}
    for name, (path, htmx) in pages.items():
        results[name] = {}
        for key, client in clients.items():
            url = url_of(name, client, accounts[key][1])
            for _ in range(args.warmup):
                hit(client, url, htmx)
            sample = results[name][key] = Sample()
            for _ in range(args.requests):
                before, pg_before = counter.count, backends.nanoseconds()
                cpu, wall, status, size = hit(client, url, htmx)
                pg_after = backends.nanoseconds()
                if pg_before is not None and pg_after is not None:
                    sample.pg_ms.append((pg_after - pg_before) / 1e6)
                sample.cpu_ms.append(cpu)
                sample.wall_ms.append(wall)
                sample.statements.append(counter.count - before)
                sample.status[str(status)] = sample.status.get(str(status), 0) + 1
                sample.bytes += size
    profiles = {}
    for name, (path, htmx) in pages.items():
        if args.top <= 0 or name not in (args.profile or pages):
            continue
        profiler = cProfile.Profile(time.thread_time)  # CPU, not the wait for PostgreSQL
        for key, client in clients.items():
            url = url_of(name, client, accounts[key][1])
            profiler.enable()
            for _ in range(args.profile_requests):
                hit(client, url, htmx)
            profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        profiles[name] = out.getvalue()
    summaries = {name: {key: s.summary() for key, s in by_account.items()} for name, by_account in results.items()}
    return {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "database": args.database,
            "requests": args.requests, "pages": summaries, "profiles": profiles,
            "paths": {name: path for name, (path, _h) in pages.items()}}


def report(result: dict) -> str:
    pages = result["pages"]

    def both(s: dict) -> float | None:  # the request's CPU on both sides: the application's thread and PostgreSQL's
        return None if s.get("pg_ms_median") is None else s["cpu_ms_median"] + s["pg_ms_median"]

    def floor_of(figure) -> float | None:
        values = [figure(s) for s in pages.get("healthz", {}).values()]
        return statistics.median(values) if values and None not in values else None

    floor = floor_of(lambda s: s["cpu_ms_median"])
    floor_both = floor_of(both)
    lines = [f"CPU per request (ms) — {result['database']}, {result['requests']} requests per page and account; "
             f"cpu: the application's thread (thread_time), pg: PostgreSQL's backend (/proc schedstat); ratios: "
             f"median ÷ /healthz's median ({floor and f'{floor:.2f}'} ms; with pg "
             f"{floor_both and f'{floor_both:.2f}'} ms)",
             f"{'page':<16} {'account':<14} {'cpu med':>8} {'cpu p90':>8} {'pg med':>7} {'wall med':>9} {'stmts':>5} "
             f"{'kB':>6} {'× healthz':>9} {'(+pg)':>6}  status"]
    for name, by_account in pages.items():
        for key, s in by_account.items():
            ratio = f"{s['cpu_ms_median'] / floor:.1f}" if floor else "—"
            ratio_both = f"{both(s) / floor_both:.1f}" if floor_both and both(s) is not None else "—"
            pg = f"{s['pg_ms_median']:.2f}" if s.get("pg_ms_median") is not None else "—"
            lines.append(f"{name:<16} {key:<14} {s['cpu_ms_median']:>8.2f} {s['cpu_ms_p90']:>8.2f} {pg:>7} "
                         f"{s['wall_ms_median']:>9.2f} {s['statements']:>5} {s['bytes'] / 1024:>6.1f} {ratio:>9} "
                         f"{ratio_both:>6}  {s['status']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--pieces", type=int, default=20_000, help="pieces to seed when the database has none")
    parser.add_argument("--requests", type=int, default=30, help="measured requests per page and account")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--pages", nargs="*", choices=sorted(PAGES), help="pages to measure (default: all)")
    parser.add_argument("--profile", nargs="*", choices=sorted(PAGES), help="pages to profile (default: all)")
    parser.add_argument("--profile-requests", type=int, default=10, help="requests per account under cProfile")
    parser.add_argument("--top", type=int, default=25, help="functions listed per profile (0: no profile)")
    parser.add_argument("--json", type=Path, help="write the figures and profiles to this file")
    parser.add_argument("--as-is", action="store_true",
                        help="read --database as it is: no `flask db upgrade` from this tree, no read model built "
                             "(a shared database that may be ahead of, or behind, this tree's migrations)")
    args = parser.parse_args(argv)
    result = run(args)
    print(report(result))
    for name, text in result["profiles"].items():
        print(f"\n=== cProfile {name} ===\n{text}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
