"""Benchmark: throughput and latency of the dashboards under gunicorn, side by side with a trivial page of the same
application, on a large seeded PostgreSQL database.

What it does, in one run:
1. drops and creates the database `chorus_bench` (owned by the ordinary role `chorus_app`, as in production and in
   the tests: row-level security applies to the application), migrates it with the real Alembic migrations
   (`flask db upgrade`, the Procfile's release line), and seeds it fast with COPY (`bench/dashboards_seed.py`:
   ≥ 200 structures, ≥ 100 marchés with their chains, 100 000 pieces living through the transition table, with
   hash-chained events, access rows, clocks and notifications); `--keep` re-uses a seeded database;
2. starts gunicorn (`app:app`, gthread workers) on 127.0.0.1 on a free port, as a subprocess;
3. logs in a pool of HTTP clients (threads, one `requests.Session` each) as the gestionnaires of the busiest
   structures (a titulaire of a quarter of the marchés, a maître d'œuvre of 40 % of the works marchés, a maître
   d'ouvrage, a sous-traitant), warms every page up, then runs phases of `--seconds` each: in every phase all the
   clients hit one page as fast as it answers; the pages take turns (A B C, B C A, …) over `--rounds` rounds so a
   noisy neighbour weighs on all of them alike;
4. reports, per page, requests/s, p50/p95/p99 latency and errors, and the figure that matters: the ratio of each
   page to the trivial page measured in the same run (throughput ratio, p95 ratio). Absolute numbers depend on the
   machine; the ratio says what a dashboard costs compared with the application's own floor (WSGI, session,
   database round trip).

The trivial page is `/healthz` (a `SELECT 1` and a Redis ping through the same app, JSON, no template). The pages
measured are a parameter (`--pages`, or PAGES below): name=path, with `{siret}` filled with the logged-in
structure's SIRET.

This is a benchmark, not a test: nothing asserts on the figures (tests/integration/test_bench_dashboards.py only
checks that `--quick` runs and reports numbers). Run it from the repository root, on a machine as idle as you can:

    .venv/bin/python bench/dashboards.py                          # full size: 240 structures, 100 000 pieces
    .venv/bin/python bench/dashboards.py --keep --seconds 20      # re-use the seeded database
    .venv/bin/python bench/dashboards.py --quick                  # 2 000 pieces, 5 s phases (what the CI test runs)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dashboards_seed as seeding  # noqa: E402
import requests  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
APP_ROLE = "chorus_app"
DATABASE = "chorus_bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
RESULTS = ROOT / "bench" / "results"

# The pages measured, name → path ({siret}: the logged-in structure's): the two dashboards and the Trésorerie (issue
# 19). Another list is one line here, or `--pages`, e.g. the pieces lists: a_traiter=/s/{siret}/pieces/
# emises=/s/{siret}/pieces/emises
PAGES = {"synthese": "/s/{siret}/synthese", "tableau_de_bord": "/s/{siret}/tableau-de-bord",
         "tresorerie": "/s/{siret}/tresorerie"}
TRIVIAL = ("healthz", "/healthz")


# ---------------------------------------------------------------------------------------------------------------------
# Database


def _admin_url_for(database: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{database}"


def app_database_url(database: str) -> str:
    """The URL the application uses: the ordinary role, so that row-level security applies."""
    base = ADMIN_URL.rsplit("/", 1)[0]
    return re.sub(r"://[^@/]*@", f"://{APP_ROLE}@", base) + f"/{database}"


def _has_pieces(database: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(_admin_url_for(database), connect_timeout=3) as conn:
            return bool(conn.execute("SELECT to_regclass('piece') IS NOT NULL AND EXISTS (SELECT 1 FROM piece)")
                        .fetchone()[0])
    except psycopg.OperationalError:
        return False


def create_database(database: str) -> None:
    """Drop and create the database, owned by the application's role (created if missing, never a superuser)."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}" OWNER {APP_ROLE}')


def drop_database(database: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _app_env(database: str, redis_url: str | None, pgoptions: str = "") -> dict[str, str]:
    env = dict(os.environ)
    if pgoptions:  # libpq reads PGOPTIONS: session settings for every connection of the server (e.g. -c jit=off)
        env["PGOPTIONS"] = pgoptions
    env.update({
        "DATABASE_URL": app_database_url(database),
        "CHORUS_ENV": "production",
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "SESSION_COOKIE_SECURE": "0",  # plain http on loopback
        "LOGIN_RATE_LIMIT": "100000 per minute",  # the clients log in at once from one address
        "BASE_URL": "http://127.0.0.1",
        "REDIS_URL": redis_url or "",
    })
    return env


def migrate(database: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"], cwd=ROOT,
                   env=_app_env(database, None), check=True, capture_output=True)


def _redis_or_none() -> str | None:
    try:
        from redis import Redis

        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return REDIS_URL
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------------------------------
# Server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving app:app on loopback, as the Procfile's web line does (with gthread workers)."""

    def __init__(self, database: str, workers: int, threads: int, redis_url: str | None, pgoptions: str = "") -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.command = [str(gunicorn), "app:app", "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
                        "--worker-class", "gthread", "--threads", str(threads), "--log-level", "warning",
                        "--timeout", "120"]
        self.env = _app_env(database, redis_url, pgoptions)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        # gunicorn's own output goes to a file, never to our stdout: a pipe reading us would wait for it too.
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log_path = RESULTS / f"gunicorn-{self.port}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, start_new_session=True,
                                        stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            self._wait_until_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + 90
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {self.process.returncode}:\n{self._log_tail()}")
            try:
                answer = requests.get(self.base + TRIVIAL[1], timeout=5)
                if answer.status_code == 200:
                    return
                last = f"HTTP {answer.status_code}: {answer.text[:300]}"
            except requests.RequestException as error:
                last = type(error).__name__
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer {TRIVIAL[1]} with 200 within 90 s ({last}):\n"
                           f"{self._log_tail()}")

    def _log_tail(self) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # its own session: the master and its workers only
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# ---------------------------------------------------------------------------------------------------------------------
# Clients


def login(base: str, email: str) -> requests.Session:
    """A logged-in session, through the real login form (CSRF token included)."""
    session = requests.Session()
    page = session.get(base + "/connexion", timeout=30)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    data = {"email": email, "password": seeding.BENCH_PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    answer = session.post(base + "/connexion", data=data, timeout=30, allow_redirects=False)
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"login of {email} failed: HTTP {answer.status_code}")
    return session


@dataclass
class Client:
    name: str  # the BENCH_LOGINS key
    siret: str
    session: requests.Session


@dataclass
class PageResult:
    name: str
    path: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    bytes: int = 0

    def summary(self) -> dict:
        lat = sorted(self.latencies)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))] * 1000

        ok = self.requests - self.errors
        return {
            "path": self.path, "requests": self.requests, "errors": self.errors, "seconds": round(self.seconds, 3),
            "rps": ok / self.seconds if self.seconds else 0.0, "p50_ms": pct(50), "p95_ms": pct(95),
            "p99_ms": pct(99), "mean_ms": statistics.fmean(lat) * 1000 if lat else None,
            "mean_bytes": self.bytes / ok if ok else None, "statuses": self.statuses,
        }


def _hit(client: Client, url: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    answer = client.session.get(url, timeout=60, allow_redirects=False)
    return time.perf_counter() - started, answer.status_code, len(answer.content)


def run_phase(base: str, clients: list[Client], name: str, path: str, seconds: float, result: PageResult) -> None:
    """Every client hits the page in a loop for `seconds`; latencies of the answers are recorded (errors: any
    status but 200)."""
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def loop(client: Client) -> None:
        url = base + path.format(siret=client.siret)
        local: list[tuple[float, int, int]] = []
        while time.perf_counter() < stop:
            try:
                local.append(_hit(client, url))
            except requests.RequestException:
                local.append((0.0, 0, 0))
        with lock:
            for elapsed, status, size in local:
                result.requests += 1
                result.statuses[str(status)] = result.statuses.get(str(status), 0) + 1
                if status == 200:
                    result.latencies.append(elapsed)
                    result.bytes += size
                else:
                    result.errors += 1

    threads = [threading.Thread(target=loop, args=(client,)) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds += time.perf_counter() - started


def measure(base: str, clients: list[Client], pages: dict[str, str], seconds: float, rounds: int,
            warmup: int) -> dict[str, PageResult]:
    names = list(pages)
    results = {name: PageResult(name, pages[name]) for name in names}
    def warm(client: Client) -> None:  # imports, template compilation, connection pools, PostgreSQL's caches
        for name in names:
            for _ in range(warmup):
                _hit(client, base + pages[name].format(siret=client.siret))

    warmers = [threading.Thread(target=warm, args=(client,)) for client in clients]  # all at once: slow pages
    for thread in warmers:
        thread.start()
    for thread in warmers:
        thread.join()
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            run_phase(base, clients, name, pages[name], seconds, results[name])
    return results


def check_pages(base: str, clients: list[Client], pages: dict[str, str]) -> dict[str, int]:
    """Each page once per client: a page answering anything but 200 is reported (and measured anyway)."""
    problems = {}
    for name, path in pages.items():
        for client in clients:
            _, status, _ = _hit(client, base + path.format(siret=client.siret))
            if status != 200:
                problems[f"{name} as {client.name}"] = status
    return problems


# ---------------------------------------------------------------------------------------------------------------------
# Report


def report(result: dict) -> str:
    pages = result["pages"]
    trivial = pages[TRIVIAL[0]]
    lines = []
    seeded = result.get("seed")
    if seeded:
        counts = seeded["counts"]
        lines.append(
            f"Seeded {counts.get('structure', 0)} structures, {counts.get('marche', 0)} marchés "
            f"({counts.get('marche_party', 0)} parties), {counts.get('piece', 0)} pieces, "
            f"{counts.get('piece_event', 0)} events, {counts.get('piece_access', 0)} access rows, "
            f"{counts.get('deadline', 0)} clocks, {counts.get('notification', 0)} notifications in "
            f"{seeded['seconds_total']:.1f} s (simulate {seeded['seconds']['simulate']:.1f} s, "
            f"COPY {seeded['seconds']['copy']:.1f} s, VACUUM ANALYZE {seeded['seconds']['analyze']:.1f} s; "
            f"create + migrate {seeded['seconds']['migrate']:.1f} s)")
        lines.append("Pieces visible to the logged-in structures: " + ", ".join(
            f"{key} {count}" for key, count in seeded["pieces_by_login"].items()))
    pgoptions = result["server"].get("pgoptions")
    lines.append(f"gunicorn {result['server']['workers']} workers × {result['server']['threads']} threads (gthread), "
                 f"{f'PGOPTIONS {pgoptions!r}, ' if pgoptions else ''}{result['clients']} clients, "
                 f"{result['rounds']} round(s) of {result['seconds']} s per page, "
                 f"{result['cpu_count']} CPUs, load average before {result['loadavg_before']}")
    lines.append(f"{'page':18} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'kB':>6} "
                 f"{'÷ trivial req/s':>15} {'× trivial p95':>13}")
    for name, page in pages.items():
        ratio = result["ratios"].get(name, {})

        def fmt(value, spec):
            return format(value, spec) if value is not None else "—"

        lines.append(
            f"{name:18} {page['rps']:8.1f} {fmt(page['p50_ms'], '8.1f')} {fmt(page['p95_ms'], '8.1f')} "
            f"{fmt(page['p99_ms'], '8.1f')} {page['errors']:7d} "
            f"{fmt(page['mean_bytes'] / 1024 if page['mean_bytes'] else None, '6.1f')} "
            f"{fmt(ratio.get('throughput'), '15.3f')} {fmt(ratio.get('p95'), '13.2f')}")
    if result["page_problems"]:
        lines.append("Pages not answering 200: " + ", ".join(f"{k}: HTTP {v}" for k, v in
                                                            result["page_problems"].items()))
    lines.append(f"Read: a page's 'req/s ÷ trivial' is the share of the application's floor throughput it keeps "
                 f"(trivial = {trivial['path']}, measured in the same run).")
    return "\n".join(lines)


def ratios(pages: dict[str, dict]) -> dict[str, dict[str, float | None]]:
    trivial = pages[TRIVIAL[0]]
    out = {}
    for name, page in pages.items():
        if name == TRIVIAL[0]:
            continue
        out[name] = {
            "throughput": page["rps"] / trivial["rps"] if trivial["rps"] else None,
            "p95": page["p95_ms"] / trivial["p95_ms"] if page["p95_ms"] and trivial["p95_ms"] else None,
            "p50": page["p50_ms"] / trivial["p50_ms"] if page["p50_ms"] and trivial["p50_ms"] else None,
        }
    return out


# ---------------------------------------------------------------------------------------------------------------------
# Main


def parse_pages(values: list[str] | None) -> dict[str, str]:
    if not values:
        return dict(PAGES)
    pages = {}
    for value in values:
        name, _, path = value.partition("=")
        if not path.startswith("/"):
            raise SystemExit(f"--pages takes name=/path ({{siret}} allowed), not {value!r}")
        pages[name] = path
    return pages


def run(args: argparse.Namespace) -> dict:
    sizes = seeding.Sizes(structures=args.structures, marches=args.marches, pieces=args.pieces)
    seeding.check_sizes(sizes)
    database = args.database
    seed_info = None
    if not (args.keep and _has_pieces(database)):
        started = time.perf_counter()
        create_database(database)
        migrate(database)
        migrate_seconds = time.perf_counter() - started
        world = seeding.seed(_admin_url_for(database), sizes)
        seed_info = {
            "sizes": asdict(sizes), "counts": dict(world.counts), "seconds": {**world.seconds,
                                                                              "migrate": migrate_seconds},
            "seconds_total": migrate_seconds + sum(world.seconds.values()), "logins": world.logins,
            "pieces_by_login": world.pieces_by_login, "statuses": dict(world.statuses.most_common()),
        }
        print(f"seeded {database} in {seed_info['seconds_total']:.1f} s", flush=True)
    else:
        migrate(database)  # a kept database follows the schema (a new migration since it was seeded)
    logins = {key: email for key, email in seeding.BENCH_LOGINS.items()}
    pages = {TRIVIAL[0]: TRIVIAL[1], **parse_pages(args.pages)}
    redis_url = _redis_or_none()
    loadavg_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with Server(database, args.workers, args.threads, redis_url, args.pgoptions) as server:
        sirets = _sirets(database)
        clients = []
        keys = list(logins)
        for index in range(args.clients):  # round-robin over the busy accounts
            key = keys[index % len(keys)]
            clients.append(Client(key, sirets[logins[key]], login(server.base, logins[key])))
        problems = check_pages(server.base, clients[:len(keys)], pages)
        results = measure(server.base, clients, pages, args.seconds, args.rounds, args.warmup)
    summaries = {name: page.summary() for name, page in results.items()}
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "database": database,
        "seed": seed_info, "server": {"workers": args.workers, "threads": args.threads, "redis": bool(redis_url),
                                         "pgoptions": args.pgoptions},
        "clients": args.clients, "seconds": args.seconds, "rounds": args.rounds, "pages": summaries,
        "ratios": ratios(summaries), "page_problems": problems, "cpu_count": os.cpu_count(),
        "loadavg_before": loadavg_before, "python": platform.python_version(),
    }


def _sirets(database: str) -> dict[str, str]:
    """The SIRET each bench account works for (its structure as gestionnaire)."""
    import psycopg

    with psycopg.connect(_admin_url_for(database)) as conn:
        rows = conn.execute("SELECT a.email, s.siret FROM account a JOIN structure s ON s.gestionnaire_id = a.id "
                            "WHERE a.email = ANY(%s)", (list(seeding.BENCH_LOGINS.values()),)).fetchall()
    return dict(rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--structures", type=int, default=240)
    parser.add_argument("--marches", type=int, default=120)
    parser.add_argument("--pieces", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (threads)")
    parser.add_argument("--seconds", type=float, default=15, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, default=2, help="each page is measured once per round")
    parser.add_argument("--warmup", type=int, default=2, help="requests per client and page before measuring")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--pages", nargs="*", metavar="NAME=PATH",
                        help="pages to measure instead of PAGES (e.g. a_traiter=/s/{siret}/pieces/)")
    parser.add_argument("--pgoptions", default="",
                        help="PostgreSQL settings for the server's connections (PGOPTIONS), e.g. \"-c jit=off\"")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep", action="store_true",
                        help="re-use the seeded database if it has pieces, and keep it at the end")
    parser.add_argument("--quick", action="store_true",
                        help="a small run that proves the script works: 2 000 pieces, 2 clients, one 5 s round")
    parser.add_argument("--json", type=Path, nargs="?", const=None, default=None,
                        help="write the figures to this file (default: bench/results/dashboards-<time>.json)")
    args = parser.parse_args(argv)
    if args.quick:
        args.pieces, args.structures, args.marches = min(args.pieces, 2_000), min(args.structures, 200), \
            min(args.marches, 100)
        args.clients, args.seconds, args.rounds, args.warmup = min(args.clients, 2), min(args.seconds, 5), 1, 1
    try:
        result = run(args)
    finally:
        if not args.keep:
            drop_database(args.database)
    print(report(result))
    path = args.json or RESULTS / f"dashboards-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"figures written to {path}")
    return result


if __name__ == "__main__":
    main()
