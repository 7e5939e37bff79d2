"""Benchmark: throughput and latency of the dashboards under gunicorn, side by side with a trivial page of the same
application, on a large seeded PostgreSQL database.

What it does, in one run:
1. drops and creates the database `chorus_bench` (owned by the ordinary role `chorus_app`, as in production and in
   the tests: row-level security applies to the application), migrates it with the real Alembic migrations
   (`flask db upgrade`, the Procfile's release line), and seeds it fast with COPY (`bench/dashboards_seed.py`:
   structures and marchés with their chains growing with the pieces — 240 and 120 for 100 000 —, the pieces living
   through the transition table, with hash-chained events, access rows, clocks and notifications; streamed by
   chunks, `--jobs` processes side by side); `--keep` re-uses a seeded database, `--seed-only` stops there;
2. starts gunicorn (`app:app`, gthread workers, `CHORUS_TIMING=1`) on 127.0.0.1 on a free port, as a subprocess;
3. logs in a pool of HTTP clients (threads, one `requests.Session` each) as the gestionnaires of the busiest
   structures (a titulaire of a quarter of the marchés, a maître d'œuvre of 40 % of the works marchés, a maître
   d'ouvrage, a sous-traitant), warms every page up, then runs **pairs of phases**: for each page in turn, every
   client drops its connection (its login cookie kept), hits the trivial page for `--floor-seconds` (the page's
   *floor*), then the page for `--seconds`, as fast as each answers; the pages take turns (A B C, B C A, …) over
   `--rounds` rounds so a noisy neighbour weighs on all of them alike;
4. reports, per page and per account, requests/s, p50/p95/p99 latency, errors, the server's CPU time, database time
   and statements per request (its Server-Timing header), and the figure that matters: the ratio of each page to
   the trivial page measured beside it (throughput ratio, p95 ratio) against issue 20's goal. Absolute numbers
   depend on the machine; the ratio says what a dashboard costs compared with the application's own floor (WSGI,
   session, database round trip).

**Why the floor is measured beside each page.** The ratio divides by the trivial page's figures, so their noise is
the ratio's. Measured in its own two phases of the run (session 14), /healthz rested on 16 s while each page was
compared with it, and moved by 17 % between three runs of the same tree (252.8, 295.4, 261.2 req/s) where the pages
moved by a few per cent: the verdict (59, 12, 21 of 68 pairs) followed the floor. Now each page phase comes right
after its own floor phase, by the same clients on the same connections: the two see the same minutes of the
machine (its neighbours, the collector, PostgreSQL's checkpoints) and the same split of the clients between
gunicorn's workers, so what moves both cancels in their ratio (as far as it moves slower than a phase: on a machine
whose load changed faster, session 15, it did not steady the ratios — bench/README.md; both verdicts are kept). A page's ratios are its answers over all its phases
against the floor's answers over the floor phases just before them, pooled (per account: that account's clients'
answers on both sides): throughput = the page's answers per second ÷ the floor's; p95 = the 95th percentile of the
page's latencies ÷ the 95th percentile of the floor's — two quantiles of samples taken under the same conditions,
the comparison the goal states (a mean of per-phase p95s would be no percentile of anything). The floor phase is
half as long as the page's by default (`--floor-seconds`): /healthz answers two to five times as often as a
dashboard (the goal asks a quarter), so it brings about as many samples as the page, or more. `ratios[page].rounds` gives each pair's own ratio
(their spread is the run's noise); `ratios[page].whole_run` the ratios against every floor phase of the run pooled
(`pages["healthz"]`: the old whole-run figure, now over as many phases as pages × rounds), to compare the two.

**The clients' split.** A gthread worker accepts on the listening socket it shares with the other workers whenever
its loop wakes, whether its threads are busy or not, and keeps an accepted connection until it idles past
`--keep-alive` (2 s): a client that never pauses stays with one worker. With one connection per client for the
whole run, the split (4/4, 5/3, 6/2 of 8 clients, even 8/0) was drawn once and weighed on every figure. Each pair of
phases now opens new connections, so the split is drawn again per pair (written per phase in `phases`, printed
after the table): within a pair the page and its floor share it, and over a page's phases and rounds the draws
average out. Several runs, one verdict: `bench/dashboards_median.py` (the median per pair over several runs' JSON).

The trivial page is `/healthz` (a `SELECT 1` and a Redis ping through the same app, JSON, no template). The pages
measured are a parameter (`--pages`, or PAGES below): name=path, with `{siret}` and the filter values filled with
the logged-in account's own.

This is a benchmark, not a test: nothing asserts on the figures (tests/integration/test_bench_dashboards.py only
checks that `--quick` runs and reports numbers). Run it from the repository root, on a machine as idle as you can:

    .venv/bin/python bench/dashboards.py                          # full size: 240 structures, 100 000 pieces
    .venv/bin/python bench/dashboards.py --keep --seconds 20      # re-use the seeded database
    .venv/bin/python bench/dashboards.py --seed-only --pieces 1000000 --jobs 2 --database chorus_bench_1m
    .venv/bin/python bench/dashboards.py --quick                  # 2 000 pieces, 2 s phases (what the CI test runs)
"""
from __future__ import annotations

import argparse
import html
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
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dashboards_seed as seeding  # noqa: E402
import requests  # noqa: E402

from chorus_chain import timing  # noqa: E402

ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
APP_ROLE = "chorus_app"
DATABASE = "chorus_bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
RESULTS = ROOT / "bench" / "results"

# The pages measured, name → path, as issue 20 lists them: the Synthèse, the Tableau de bord (the sous-traitant's
# payment tracker is its panel there) without filters, with each filter, a deep page of its list, every sort and the
# search by number. Each client fills the braces with what its own account sees (`discover`): {siret} its
# structure; {marche_id} its marché with the most pieces, {party_id} the company that emitted the most of them,
# {status} their commonest status, {number} the number of one of them, {du}/{au} a month of the history;
# {deep_page} the page reached by following « suivant » (rel="next") `--deep` times. Another list: `--pages`,
# e.g. tresorerie=/s/{siret}/tresorerie a_traiter=/s/{siret}/pieces/
BOARD = "/s/{siret}/tableau-de-bord"
SORTS = ("date", "-numero", "numero", "-montant", "montant", "statut", "-statut", "marche", "-marche")  # + "-date"
PAGES = {
    "synthese": "/s/{siret}/synthese",
    "tableau_de_bord": BOARD,
    "tdb_marche": BOARD + "?marche_id={marche_id}",
    "tdb_statut": BOARD + "?status={status}",
    "tdb_entreprise": BOARD + "?party_id={party_id}",
    "tdb_periode": BOARD + "?du={du}&au={au}",
    "tdb_numero": BOARD + "?number={number}",
    "tdb_page_profonde": "{deep_page}",
    **{f"tdb_tri_{key.replace('-', 'desc_')}": BOARD + f"?tri={key}" for key in SORTS},
}
TRIVIAL = ("healthz", "/healthz")
GOAL = {"throughput": 0.25, "p95": 3.0}  # issue 20: ≥ 0.25 of /healthz's req/s, p95 ≤ 3 × /healthz's


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
        # Every answer says what it cost the server (Server-Timing: CPU, database time, statements), /healthz too.
        self.env = {**_app_env(database, redis_url, pgoptions), "CHORUS_TIMING": "1"}
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
    values: dict[str, str] = field(default_factory=dict)  # what fills a page's braces for this account
    number: int = 0  # its place among the clients (the tail's report says which worker served each)

    def url(self, base: str, path: str) -> str:
        path = path.format(siret=self.siret, **self.values)
        return path if path.startswith("http") else base + path


def account_values(database: str, siret: str, now: datetime) -> dict[str, str]:
    """The filter values of issue 20's pages for the structure `siret`, read as the superuser from what it sees
    (the pieces it emitted or holds an access row for): its busiest marché, the company that emitted the most of
    its pieces, their commonest status, the number of one of them, and a month of the history (three months ago)."""
    import psycopg

    with psycopg.connect(_admin_url_for(database)) as conn:
        row = conn.execute("""
            WITH me AS (SELECT id FROM structure WHERE siret = %(siret)s),
            seen AS (SELECT p.marche_id, p.emitter_party_id, p.status, p.number, p.id FROM piece p
                     WHERE p.emitter_structure_id = (SELECT id FROM me)
                     UNION
                     SELECT p.marche_id, p.emitter_party_id, p.status, p.number, p.id
                     FROM piece_access a JOIN piece p ON p.id = a.piece_id WHERE a.structure_id = (SELECT id FROM me))
            SELECT (SELECT marche_id FROM seen GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1),
                   (SELECT emitter_party_id FROM seen GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1),
                   (SELECT status FROM seen GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1),
                   (SELECT number FROM seen ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM seen))
        """, {"siret": siret}).fetchone()
    marche_id, party_id, status, number = row
    month_end = (now - timedelta(days=90)).date()
    return {"marche_id": str(marche_id), "party_id": str(party_id), "status": status, "number": number,
            "du": (month_end - timedelta(days=30)).isoformat(), "au": month_end.isoformat()}


NEXT_LINK = re.compile(r'<a\b[^>]*\brel="next"[^>]*>')


def follow_next(base: str, client: Client, path: str, times: int) -> tuple[str, int]:
    """The URL reached from `path` by following its « suivant » link (rel="next") up to `times` times: a deep page
    as a user reaches it, whatever the pagination (page numbers or a cursor). Returns (url, links followed)."""
    url = client.url(base, path)
    for followed in range(times):
        answer = client.session.get(url, timeout=120)
        link = NEXT_LINK.search(answer.text)
        href = re.search(r'\bhref="([^"]+)"', link.group(0)) if link else None
        if href is None:
            return url, followed
        url = urljoin(url, html.unescape(href.group(1)))
    return url, times


@dataclass
class Sample:
    account: str  # the BENCH_LOGINS key of the client
    seconds: float
    status: int
    size: int
    server: dict[str, float]  # Server-Timing: cpu / db (ms), sql (statements), total (ms)
    client: int = 0  # which of the clients asked (Client.number)
    worker: int | None = None  # the gunicorn worker that answered (its pid, Server-Timing)


def _percentile(values: list[float], p: float) -> float | None:
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def tail(samples: list[Sample]) -> dict:
    """Where the slowest 5 % of some answers (latency ≥ p95), and all of them, spent their time, in ms on average:
    `total` inside the application (Server-Timing) of which `cpu` on its thread's CPU, `db` in the driver and `other`
    the rest (waiting for the GIL among the worker's threads or for a core); `queued` outside it (latency − total:
    waiting for a thread of the worker holding the connection, the HTTP exchange, the client's own scheduling).
    `workers`: how many clients each worker served (the clients' keep-alive connections stay with the worker that
    accepted them: 5 clients on a worker of 4 threads queue), and `moved`: clients served by more than one."""
    timed = [s for s in samples if s.status == 200 and "total" in s.server and "cpu" in s.server and "db" in s.server]
    cut = _percentile([s.seconds * 1000 for s in timed], 95)

    def figures(group: list[Sample]) -> dict:
        def mean(of) -> float | None:
            return _mean([of(s) for s in group])

        return {"n": len(group), "latency_ms": mean(lambda s: s.seconds * 1000),
                "total_ms": mean(lambda s: s.server["total"]), "cpu_ms": mean(lambda s: s.server["cpu"]),
                "db_ms": mean(lambda s: s.server["db"]),
                "other_ms": mean(lambda s: s.server["total"] - s.server["cpu"] - s.server["db"]),
                "queued_ms": mean(lambda s: s.seconds * 1000 - s.server["total"])}

    return {"slowest": figures([s for s in timed if cut is not None and s.seconds * 1000 >= cut]),
            "all": figures(timed), **split(samples)}


def split(samples: list[Sample]) -> dict:
    """How the clients split between gunicorn's workers in some answers: `workers`, how many clients each worker
    served (a client counted for the worker that answered most of its requests), and `moved`, the clients served by
    more than one. Within a phase a client keeps its connection, so `moved` is 0; over a page's phases it is not
    (each phase opens new connections)."""
    served: dict[int, dict[int, int]] = {}  # client → worker → answers
    for sample in samples:
        if sample.worker is not None:
            by_worker = served.setdefault(sample.client, {})
            by_worker[sample.worker] = by_worker.get(sample.worker, 0) + 1
    clients_of: dict[int, int] = {}
    for by_worker in served.values():
        main = max(by_worker, key=by_worker.get)
        clients_of[main] = clients_of.get(main, 0) + 1
    return {"workers": sorted(clients_of.values(), reverse=True),
            "moved": sum(1 for by_worker in served.values() if len(by_worker) > 1)}


def summarise(samples: list[Sample], seconds: float) -> dict:
    """Throughput, latency and server cost of some answers (a page, or one account's share of it)."""
    ok = [s for s in samples if s.status == 200]
    lat = [s.seconds * 1000 for s in ok]
    server = [s.server for s in ok if s.server]
    statuses: dict[str, int] = {}
    for sample in samples:
        statuses[str(sample.status)] = statuses.get(str(sample.status), 0) + 1
    return {
        "requests": len(samples), "errors": len(samples) - len(ok), "seconds": round(seconds, 3),
        "rps": len(ok) / seconds if seconds else 0.0, "p50_ms": _percentile(lat, 50),
        "p95_ms": _percentile(lat, 95), "p99_ms": _percentile(lat, 99), "mean_ms": _mean(lat),
        "mean_bytes": _mean([s.size for s in ok]), "statuses": statuses,
        # What the server says it spent (CHORUS_TIMING=1): CPU of the request's thread, time in the driver, queries.
        "cpu_ms": _mean([t["cpu"] for t in server if "cpu" in t]),
        "cpu_p95_ms": _percentile([t["cpu"] for t in server if "cpu" in t], 95),
        "db_ms": _mean([t["db"] for t in server if "db" in t]),
        "sql": _mean([t["sql"] for t in server if "sql" in t]),
        "sql_max": max((t["sql"] for t in server if "sql" in t), default=None),
    }


@dataclass
class Phase:
    """One phase of the run: every client hits one path for `seconds`. `kind` is "floor" (the trivial page, measured
    just before the page `name` on the same connections) or "page"."""
    kind: str
    name: str  # the page measured; for a floor phase, the page it is the floor of
    path: str
    round: int
    seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)


def _hit(client: Client, url: str) -> Sample:
    started = time.perf_counter()
    try:
        answer = client.session.get(url, timeout=120, allow_redirects=False)
    except requests.RequestException:
        return Sample(client.name, time.perf_counter() - started, 0, 0, {}, client.number)
    said = answer.headers.get("Server-Timing")
    return Sample(client.name, time.perf_counter() - started, answer.status_code, len(answer.content),
                  timing.parse(said), client.number, timing.worker_of(said))


def run_phase(base: str, clients: list[Client], path: str, seconds: float, phase: Phase) -> None:
    """Every client hits the page (its account's URL) in a loop for `seconds`; each answer is recorded with its
    latency, status and the server's own timing (errors: any status but 200)."""
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def loop(client: Client) -> None:
        url = client.url(base, path)
        local = [_hit(client, url)]  # at least one answer each: the phase's split names every client
        while time.perf_counter() < stop:
            local.append(_hit(client, url))
        with lock:
            phase.samples.extend(local)

    threads = [threading.Thread(target=loop, args=(client,)) for client in clients]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds += time.perf_counter() - started


def reconnect(base: str, clients: list[Client]) -> None:
    """Each client drops its connection, keeping its session's login cookie, and opens a new one with a request to
    the trivial page (not measured), one client after the other: which gunicorn worker accepts each connection is
    drawn again. A gthread worker accepts on the listening socket it shares with the others whenever its loop wakes,
    busy threads or not, and keeps the connection until it idles past --keep-alive. One after the other, as users
    arrive: opened all at once, the first worker awake took most of them (8 clients, two idle workers of 4 threads,
    2 × 40 draws: 8/0 in 25, 7/1 in 16, 6/2 in 15, 5/3 in 16, 4/4 in 8; one after the other 8/0 in 1, 7/1 in 2,
    6/2 in 9, 5/3 in 37, 4/4 in 31 — eight fair coins would give 1, 5, 18, 35, 22)."""
    for client in clients:
        client.session.close()  # requests: the adapters' pools are emptied; the session stays usable
        _hit(client, base + TRIVIAL[1])


def measure(base: str, clients: list[Client], pages: dict[str, str], seconds: float, rounds: int,
            warmup: int, floor_seconds: float) -> list[Phase]:
    """The run's phases, in order: for each page in turn (A B C, B C A, … over `rounds` rounds), new connections,
    a floor phase of the trivial page for `floor_seconds`, then the page's phase for `seconds`."""
    names = [name for name in pages if name != TRIVIAL[0]]

    def warm(client: Client) -> None:  # imports, template compilation, connection pools, PostgreSQL's caches
        for name in pages:
            for _ in range(warmup):
                _hit(client, client.url(base, pages[name]))

    warmers = [threading.Thread(target=warm, args=(client,)) for client in clients]  # all at once: slow pages
    for thread in warmers:
        thread.start()
    for thread in warmers:
        thread.join()
    phases = []
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            reconnect(base, clients)
            floor, page = Phase("floor", name, TRIVIAL[1], round_), Phase("page", name, pages[name], round_)
            run_phase(base, clients, TRIVIAL[1], floor_seconds, floor)
            run_phase(base, clients, pages[name], seconds, page)
            phases += [floor, page]
    return phases


def _summary(path: str, phases: list[Phase]) -> dict:
    """A page's figures over some of its phases: all clients, its tail, and each account."""
    samples = [s for phase in phases for s in phase.samples]
    seconds = sum(phase.seconds for phase in phases)
    accounts = sorted({s.account for s in samples})
    return {"path": path, **summarise(samples, seconds), "tail": tail(samples),
            "accounts": {a: summarise([s for s in samples if s.account == a], seconds) for a in accounts}}


def summaries(phases: list[Phase], pages: dict[str, str]) -> dict[str, dict]:
    """Each page's figures over its phases, with `floor`: the trivial page's over the floor phases measured just
    before them; and the trivial page's over every floor phase of the run (the whole run's floor)."""
    floors = [phase for phase in phases if phase.kind == "floor"]
    out = {TRIVIAL[0]: {**_summary(TRIVIAL[1], floors), "phases": len(floors)}}
    for name, path in pages.items():
        if name == TRIVIAL[0]:
            continue
        own = [phase for phase in phases if phase.kind == "page" and phase.name == name]
        out[name] = {**_summary(path, own), "phases": len(own),
                     "floor": _summary(TRIVIAL[1], [phase for phase in floors if phase.name == name])}
    return out


def phase_figures(phases: list[Phase]) -> list[dict]:
    """Each phase in the order run: what it measured, how fast, and how the clients split between the workers."""
    out = []
    for phase in phases:
        figures = summarise(phase.samples, phase.seconds)
        out.append({"kind": phase.kind, "page": phase.name, "round": phase.round, "seconds": figures["seconds"],
                    "requests": figures["requests"], "errors": figures["errors"], "rps": figures["rps"],
                    "p50_ms": figures["p50_ms"], "p95_ms": figures["p95_ms"], **split(phase.samples)})
    return out


def check_pages(base: str, clients: list[Client], pages: dict[str, str]) -> dict[str, str]:
    """Each page once per account: a page answering anything but 200 is reported (and measured anyway), and so is
    a Tableau de bord that does not offer a sort the benchmark measures (an unknown sort falls back to the default:
    it would measure the default under another name)."""
    problems = {}
    for client in clients:
        board = client.session.get(client.url(base, BOARD), timeout=120).text
        for name, path in pages.items():
            sample = _hit(client, client.url(base, path))
            if sample.status != 200:
                problems[f"{name} as {client.name}"] = f"HTTP {sample.status}"
            sort = re.search(r"[?&]tri=(-?\w+)", path)
            if sort and not re.search(rf"[?&;]tri=-?{sort.group(1).lstrip('-')}\b", board):
                problems[f"{name} as {client.name}"] = f"the Tableau de bord offers no sort {sort.group(1)!r}"
        deep = client.values.get("deep_followed")
        if deep is not None and int(deep) == 0:
            problems[f"tdb_page_profonde as {client.name}"] = "no « suivant » link: the first page was measured"
    return problems


# ---------------------------------------------------------------------------------------------------------------------
# Report


def seed_report(seeded: dict | None) -> list[str]:
    if not seeded:
        return []
    counts, seconds = seeded["counts"], seeded["seconds"]
    rss = seeded.get("peak_rss_mb", {})
    return [
        f"Seeded {counts.get('structure', 0)} structures, {counts.get('marche', 0)} marchés "
        f"({counts.get('marche_party', 0)} parties), {counts.get('piece', 0)} pieces, "
        f"{counts.get('piece_event', 0)} events, {counts.get('piece_access', 0)} access rows, "
        f"{counts.get('deadline', 0)} clocks, {counts.get('notification', 0)} notifications in "
        f"{seeded['seconds_total']:.1f} s with {seeded.get('jobs', 1)} process(es) (create + migrate "
        f"{seconds['migrate']:.1f} s, structures and marchés {seconds.get('head', 0):.1f} s, pieces "
        f"{seconds.get('pieces', 0):.1f} s of which simulate {seconds['simulate']:.1f} s and COPY "
        f"{seconds['copy']:.1f} s summed over the processes, read model (flask board recompute) "
        f"{seconds.get('recompute', 0):.1f} s, VACUUM ANALYZE {seconds['analyze']:.1f} s); "
        f"peak RSS {rss.get('seeder', 0):.0f} MB" + (f" (each job ≤ {rss['jobs']:.0f} MB)" if rss.get('jobs') else "")
        + (f"; database {seeded['database_mb']:.0f} MB" if seeded.get("database_mb") else ""),
        "Pieces visible to the logged-in structures: " + ", ".join(
            f"{key} {count}" for key, count in seeded["pieces_by_login"].items()),
    ]


def _fmt(value, spec: str) -> str:
    if value is not None:
        return format(value, spec)
    width = re.match(r"\d*", spec).group(0)  # a missing figure keeps its column
    return "—".rjust(int(width)) if width else "—"


def report(result: dict) -> str:
    pages = result["pages"]
    trivial = pages[TRIVIAL[0]]
    phases = result.get("phases", [])
    lines = seed_report(result.get("seed"))
    pgoptions = result["server"].get("pgoptions")
    lines.append(f"gunicorn {result['server']['workers']} workers × {result['server']['threads']} threads (gthread), "
                 f"{f'PGOPTIONS {pgoptions!r}, ' if pgoptions else ''}{result['clients']} clients, "
                 f"{result['rounds']} round(s) of {result['seconds']} s per page, each after {result['floor_seconds']} "
                 f"s of {trivial['path']} on the same new connections, "
                 f"{result['cpu_count']} CPUs, load average before {result['loadavg_before']}")
    lines.append(f"{'page / account':22} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'err':>4} "
                 f"{'kB':>6} {'÷ trivial req/s':>15} {'× trivial p95':>13} {'cpu ms':>7} {'db ms':>7} {'sql':>5} "
                 f"{'goal':>4} {'÷ run':>6} {'× run':>6} {'goal':>4}")

    def yes(meets: bool | None) -> str:
        return f"{'' if meets is None else 'yes' if meets else 'NO':>4}"

    def line(label: str, page: dict, ratio: dict, whole: dict) -> str:
        return (f"{label:22} {page['rps']:7.1f} {_fmt(page['p50_ms'], '8.1f')} {_fmt(page['p95_ms'], '8.1f')} "
                f"{_fmt(page['p99_ms'], '8.1f')} {page['errors']:4d} "
                f"{_fmt(page['mean_bytes'] / 1024 if page['mean_bytes'] else None, '6.1f')} "
                f"{_fmt(ratio.get('throughput'), '15.3f')} {_fmt(ratio.get('p95'), '13.2f')} "
                f"{_fmt(page.get('cpu_ms'), '7.1f')} {_fmt(page.get('db_ms'), '7.1f')} {_fmt(page.get('sql'), '5.1f')} "
                f"{yes(ratio.get('meets'))} {_fmt(whole.get('throughput'), '6.3f')} {_fmt(whole.get('p95'), '6.2f')} "
                f"{yes(whole.get('meets'))}")

    for name, page in pages.items():
        ratio = result["ratios"].get(name, {})
        whole = ratio.get("whole_run", {})
        lines.append(line(name, page, ratio, whole))
        for account, figures in page.get("accounts", {}).items():
            lines.append(line(f"  {account}", figures, ratio.get("accounts", {}).get(account, {}),
                              whole.get("accounts", {}).get(account, {})))
    beside = [r for ratio in result["ratios"].values() for r in ratio.get("accounts", {}).values()]
    whole_run = [r for ratio in result["ratios"].values() for r in ratio.get("whole_run", {}).get("accounts", {}).values()]
    if beside:
        lines.append(f"Goal (≥ {GOAL['throughput']} of trivial req/s and p95 ≤ {GOAL['p95']:g} × trivial p95, per page "
                     f"and account): met by {sum(1 for r in beside if r['meets'])} of {len(beside)} against the "
                     f"floor measured beside each page; by {sum(1 for r in whole_run if r['meets'])} of "
                     f"{len(whole_run)} against the whole run's {trivial['path']} ({trivial['rps']:.1f} req/s, "
                     f"p95 {_fmt(trivial['p95_ms'], '.1f')} ms over {trivial.get('phases', 0)} floor phases).")
    lines.extend(floor_report(result))
    lines.extend(tail_report(pages, phases))
    if result["page_problems"]:
        lines.append("Problems: " + "; ".join(f"{k}: {v}" for k, v in result["page_problems"].items()))
    lines.append(f"Read: a page's '÷ trivial req/s' is the share of the application's floor throughput it keeps, "
                 f"'× trivial p95' how much longer its p95 is, both against {trivial['path']} measured just before "
                 f"each of its phases by the same clients on the same connections ('÷ run', '× run': against "
                 f"{trivial['path']} over the whole run); cpu ms, db ms and sql are the server's own figures per "
                 f"request (Server-Timing, CHORUS_TIMING=1).")
    return "\n".join(lines)


def _split(workers: list[int]) -> str:
    return "/".join(str(n) for n in workers) or "—"


def floor_report(result: dict) -> list[str]:
    """What each page was divided by: its floor (the trivial page just before its phases), round by round, with the
    clients' split between the workers in each pair of phases."""
    phases = result.get("phases", [])
    lines = [f"The floor beside each page ({result['pages'][TRIVIAL[0]]['path']} just before it, same connections), "
             f"round by round: floor req/s and p95 ms, the page's ÷ trivial req/s and × trivial p95, clients per "
             f"worker (floor → page)"]
    for name in result["ratios"]:
        floors = {p["round"]: p for p in phases if p["kind"] == "floor" and p["page"] == name}
        cells = []
        for page in (p for p in phases if p["kind"] == "page" and p["page"] == name):
            floor = floors[page["round"]]
            figures = _ratio(page, floor)
            cells.append(f"{floor['rps']:.1f} {_fmt(floor['p95_ms'], '.1f')} → {_fmt(figures['throughput'], '.3f')} "
                         f"{_fmt(figures['p95'], '.2f')} ({_split(floor['workers'])} → {_split(page['workers'])})")
        lines.append(f"{name:22} " + " | ".join(cells))
    splits: dict[str, int] = {}
    for phase in phases:
        if phase["kind"] == "floor":
            splits[_split(phase["workers"])] = splits.get(_split(phase["workers"]), 0) + 1
    if splits:
        lines.append("Clients per worker over the run's pairs of phases: " + ", ".join(
            f"{split} × {count}" for split, count in sorted(splits.items(), key=lambda item: -item[1])))
    return lines


def tail_report(pages: dict[str, dict], phases: list[dict]) -> list[str]:
    """Each page's slowest 5 % against all its answers (`tail`), all accounts together, and how the clients split
    between the workers in each of its phases."""
    lines = ["Where the time goes (ms, means; slowest 5 % = latency ≥ p95 / all answers): latency = queued (outside "
             "the application: a thread of the worker, the connection) + total (Server-Timing) = cpu + db + other "
             "(the GIL, a core); clients per worker in each of its phases",
             f"{'page':22} {'latency':>15} {'queued':>13} {'total':>13} {'cpu':>11} {'db':>13} {'other':>13} "
             f"{'clients/worker':>15}"]
    for name, page in pages.items():
        figures = page.get("tail")
        if not figures or not figures["all"]["n"]:
            continue
        slow, every = figures["slowest"], figures["all"]

        def pair(key: str, width: int) -> str:
            return f"{_fmt(slow[key], '.1f')} / {_fmt(every[key], '.1f')}".rjust(width)

        kind = "floor" if name == TRIVIAL[0] else "page"
        own = [p for p in phases if p["kind"] == kind and (kind == "floor" or p["page"] == name)]
        moved = sum(p["moved"] for p in own)
        split = " ".join(_split(p["workers"]) for p in own) + (f" moved {moved}" if moved else "")
        lines.append(f"{name:22} {pair('latency_ms', 15)} {pair('queued_ms', 13)} {pair('total_ms', 13)} "
                     f"{pair('cpu_ms', 11)} {pair('db_ms', 13)} {pair('other_ms', 13)} {split:>15}")
    return lines


def _ratio(page: dict, trivial: dict) -> dict[str, float | bool | None]:
    out = {
        "throughput": page["rps"] / trivial["rps"] if trivial["rps"] else None,
        "p95": page["p95_ms"] / trivial["p95_ms"] if page["p95_ms"] and trivial["p95_ms"] else None,
        "p50": page["p50_ms"] / trivial["p50_ms"] if page["p50_ms"] and trivial["p50_ms"] else None,
    }
    out["meets"] = (out["throughput"] is not None and out["p95"] is not None
                    and out["throughput"] >= GOAL["throughput"] and out["p95"] <= GOAL["p95"])
    return out


def _against(page: dict, trivial: dict) -> dict:
    """A page against some trivial figures: all clients together, and each account against its own clients'."""
    return {**_ratio(page, trivial), "accounts": {
        account: _ratio(figures, trivial["accounts"][account])
        for account, figures in page.get("accounts", {}).items() if account in trivial.get("accounts", {})}}


def ratios(pages: dict[str, dict], phases: list[dict]) -> dict[str, dict]:
    """Each page against the trivial page measured beside it (its `floor`: the floor phases just before its own),
    all clients together and per account; `whole_run`, the same against the trivial page over the whole run (every
    floor phase); `rounds`, all clients, each page phase against its own floor phase (from `phase_figures`)."""
    out = {}
    for name, page in pages.items():
        if name == TRIVIAL[0]:
            continue
        floors = {p["round"]: p for p in phases if p["kind"] == "floor" and p["page"] == name}
        out[name] = {**_against(page, page["floor"]), "whole_run": _against(page, pages[TRIVIAL[0]]),
                     "rounds": [_ratio(p, floors[p["round"]]) for p in phases
                                if p["kind"] == "page" and p["page"] == name]}
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
    database = args.database
    seed_info = None
    if not (args.keep and _has_pieces(database)):
        seed_info = seed_database(database, args)
    elif args.as_is:
        pass  # a shared database read as it is (see --as-is)
    else:
        migrate(database)  # a kept database follows the schema (a new migration since it was seeded)
        if args.recompute or _read_model_empty(database):
            recompute = recompute_read_model(database)
            seeding.vacuum_analyze(_admin_url_for(database))
            print(f"{database}: read model recomputed in {recompute['seconds']:.0f} s\n{recompute['output']}",
                  flush=True)
    if args.seed_only:
        return {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "database": database,
                "seed": seed_info}
    logins = {key: email for key, email in seeding.BENCH_LOGINS.items()}
    pages = {TRIVIAL[0]: TRIVIAL[1], **parse_pages(args.pages)}
    redis_url = _redis_or_none()
    loadavg_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with Server(database, args.workers, args.threads, redis_url, args.pgoptions) as server:
        sirets = _sirets(database)
        now = datetime.now(timezone.utc)
        keys = list(logins)
        values = {key: account_values(database, sirets[logins[key]], now) for key in keys}
        clients = []
        for index in range(args.clients):  # round-robin over the busy accounts
            key = keys[index % len(keys)]
            clients.append(Client(key, sirets[logins[key]], login(server.base, logins[key]), values[key], index))
        for client in clients[:len(keys)]:  # the deep page, reached as a user reaches it; shared by its clients
            url, followed = follow_next(server.base, client, BOARD, args.deep)
            values[client.name].update(deep_page=url, deep_followed=str(followed))
        problems = check_pages(server.base, clients[:len(keys)], pages)
        phases = measure(server.base, clients, pages, args.seconds, args.rounds, args.warmup, args.floor_seconds)
    figures, by_phase = summaries(phases, pages), phase_figures(phases)
    return {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "database": database,
        "seed": seed_info, "server": {"workers": args.workers, "threads": args.threads, "redis": bool(redis_url),
                                         "pgoptions": args.pgoptions},
        "clients": args.clients, "seconds": args.seconds, "floor_seconds": args.floor_seconds, "rounds": args.rounds,
        "deep": args.deep, "goal": GOAL, "account_values": values, "pages": figures, "phases": by_phase,
        "ratios": ratios(figures, by_phase), "page_problems": problems, "cpu_count": os.cpu_count(),
        "loadavg_before": loadavg_before, "python": platform.python_version(),
    }


def seed_database(database: str, args: argparse.Namespace) -> dict:
    """Create, migrate and seed `database` (streamed, `--jobs` processes); what was built, for the report."""
    sizes = seeding.Sizes(structures=args.structures, marches=args.marches, pieces=args.pieces, chunk=args.chunk)
    seeding.check_sizes(sizes)
    started = time.perf_counter()
    create_database(database)
    migrate(database)
    migrate_seconds = time.perf_counter() - started
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        if time.perf_counter() - last[0] >= 30 or done == total:
            last[0] = time.perf_counter()
            print(f"  {done} / {total} pieces ({time.perf_counter() - started:.0f} s)", flush=True)

    world = seeding.seed(_admin_url_for(database), sizes, jobs=args.jobs, progress=progress, analyze=False)
    # The pieces went in with COPY, around the operations that keep the dashboards' read model: build it from them,
    # as an operator would after a bulk load, then the statistics of everything. ANALYZE first: without statistics
    # of the freshly copied tables the planner probes the whole partial index of open clocks for every piece (a
    # BitmapAnd per row) and the rebuild of 100 000 pieces ran for more than 20 minutes instead of one.
    seconds_analyze_first = seeding.analyze(_admin_url_for(database))
    recompute = recompute_read_model(database)
    print(f"  read model built in {recompute['seconds']:.0f} s", flush=True)
    seconds = {**world.seconds, "migrate": migrate_seconds, "recompute": recompute["seconds"],
               "analyze": seconds_analyze_first + seeding.vacuum_analyze(_admin_url_for(database))}
    seed_info = {
        "sizes": asdict(sizes), "jobs": args.jobs, "counts": dict(world.counts), "seconds": seconds,
        "seconds_total": migrate_seconds + seconds["head"] + seconds["pieces"] + seconds["recompute"]
        + seconds["analyze"], "read_model": recompute, "logins": world.logins,
        "pieces_by_login": world.pieces_by_login,
        "statuses": dict(world.statuses.most_common()), "peak_rss_mb": world.peak_rss_mb,
        "database_mb": _database_mb(database),
    }
    print(f"seeded {database} in {seed_info['seconds_total']:.1f} s", flush=True)
    return seed_info


def recompute_read_model(database: str) -> dict:
    """`flask board recompute` on `database` (as the application's role, the command stating its system access):
    the read model rebuilt from the pieces; its output and the seconds it took."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "board", "recompute"], cwd=ROOT,
                          env=_app_env(database, None), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"flask board recompute failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return {"seconds": time.perf_counter() - started, "output": done.stdout.strip()}


def _read_model_empty(database: str) -> bool:
    """A database seeded before the read model existed (its migration just applied) has pieces and no board rows."""
    import psycopg

    with psycopg.connect(_admin_url_for(database)) as conn:
        return not conn.execute("SELECT EXISTS (SELECT 1 FROM board_row)").fetchone()[0]


def _database_mb(database: str) -> float:
    import psycopg

    with psycopg.connect(_admin_url_for(database)) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20


def _sirets(database: str) -> dict[str, str]:
    """The SIRET each bench account works for (its structure as gestionnaire)."""
    import psycopg

    with psycopg.connect(_admin_url_for(database)) as conn:
        rows = conn.execute("SELECT a.email, s.siret FROM account a JOIN structure s ON s.gestionnaire_id = a.id "
                            "WHERE a.email = ANY(%s)", (list(seeding.BENCH_LOGINS.values()),)).fetchall()
    return dict(rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--structures", type=int, default=None,
                        help="default: 240 for 100 000 pieces, growing with the pieces")
    parser.add_argument("--marches", type=int, default=None,
                        help="default: 120 for 100 000 pieces, growing with the pieces")
    parser.add_argument("--pieces", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1, help="processes seeding chunks of pieces side by side")
    parser.add_argument("--chunk", type=int, default=seeding.CHUNK, help="pieces simulated and written together")
    parser.add_argument("--recompute", action="store_true",
                        help="with --keep: run `flask board recompute` on the kept database first (done anyway "
                             "when its read model is empty)")
    parser.add_argument("--seed-only", action="store_true",
                        help="create and seed the database (or migrate a kept one), keep it, measure nothing")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (threads)")
    parser.add_argument("--seconds", type=float, default=15, help="length of each measured phase")
    parser.add_argument("--floor-seconds", type=float, default=None,
                        help="length of the floor phase (the trivial page) before each page phase; default: half "
                             "of --seconds")
    parser.add_argument("--rounds", type=int, default=2, help="each page is measured once per round")
    parser.add_argument("--deep", type=int, default=20,
                        help="« suivant » links followed from the Tableau de bord to reach its deep page")
    parser.add_argument("--warmup", type=int, default=2, help="requests per client and page before measuring")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8,
                        help="threads per gunicorn worker (gthread); 8 as the Procfile's web line (bench/README.md, "
                             "session 15: 4 or 8); sessions 11-14 measured with 4")
    parser.add_argument("--pages", nargs="*", metavar="NAME=PATH",
                        help="pages to measure instead of PAGES (e.g. a_traiter=/s/{siret}/pieces/)")
    parser.add_argument("--pgoptions", default="",
                        help="PostgreSQL settings for the server's connections (PGOPTIONS), e.g. \"-c jit=off\"")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--as-is", action="store_true",
                        help="with --keep: read the database as it is — no `flask db upgrade` from this tree, no "
                             "read model recomputed (a shared database ahead of or behind this tree's migrations)")
    parser.add_argument("--keep", action="store_true",
                        help="re-use the seeded database if it has pieces, and keep it at the end")
    parser.add_argument("--quick", action="store_true",
                        help="a small run that proves the script works: 2 000 pieces, 2 clients, one 2 s round")
    parser.add_argument("--json", type=Path, nargs="?", const=None, default=None,
                        help="write the figures to this file (default: bench/results/dashboards-<time>.json)")
    args = parser.parse_args(argv)
    if args.seed_only:
        args.keep = True
    if args.quick:
        args.pieces, args.structures, args.marches = min(args.pieces, 2_000), min(args.structures or 200, 200), \
            min(args.marches or 100, 100)
        args.clients, args.seconds, args.rounds, args.warmup = min(args.clients, 2), min(args.seconds, 2), 1, 1
        args.deep = min(args.deep, 2)
    if args.floor_seconds is None:
        args.floor_seconds = args.seconds / 2
    try:
        result = run(args)
    finally:
        if not args.keep:
            drop_database(args.database)
    print(report(result) if "pages" in result else "\n".join(seed_report(result["seed"])))
    path = args.json or RESULTS / f"dashboards-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"figures written to {path}")
    return result


if __name__ == "__main__":
    main()
