"""The deadline sweep at volume (issue 20): how long `operations.deadlines.sweep` takes for N due deadlines on
PostgreSQL, connected as the application's ordinary role (row-level security applies), batch by batch against the
one-by-one path, in the same run.

1. **World.** `dashboards_seed` seeds a world (structures, marchés, pieces living through the transition table with
   their clocks, hash-chained events) as it stood at `T0` = the seeding instant minus `--days-late`, into
   `chorus_bench_sweep` (kept with `--keep`). The sweep then runs at `T0 + --days-late`: every clock that was open at
   T0 and fell due since is due — the « sweep after an outage » case, each deadline applied at its own due instant.
2. **Runs.** Each variant runs on a fresh copy of that database (`CREATE DATABASE … TEMPLATE`), in this process
   (the app's own code, no server): `one-by-one` (each handler reading and writing for itself, as before issue 20,
   committed every 500; capped by `--one-by-one-limit` deadlines — a ratio per deadline), then `batch` (a
   `SweepContext` per batch, a commit per batch, as the clock does) with the default batch size (`--batch-sizes` to
   try others). Each prints the deadlines applied, seconds, deadlines per
   second, statements per deadline and rows written.
3. **Checks.** After each run: every due deadline done (none left), `flask audit verify`'s check on the swept pieces
   (hash chains), notifications and outbox rows counted; with `--check-read-model`, `flask board recompute --check`
   on the swept copy (the read model the batches maintained, against the pieces). The seeded world's read model is
   built once after seeding (`flask board recompute`), so that the sweep replaces real board rows.

    BENCH_NAME=me .venv/bin/python bench/deadline_sweep.py --pieces 100000
    .venv/bin/python bench/deadline_sweep.py --keep            # re-use the seeded world between runs
    .venv/bin/python bench/deadline_sweep.py --quick           # 3 000 pieces: proves the script works
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time
from collections import Counter
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dashboards_seed as seeding  # noqa: E402
from dashboards import (  # noqa: E402
    ADMIN_URL,
    APP_ROLE,
    _admin_url_for,
    _app_env,
    _read_model_empty,
    app_database_url,
    create_database,
    migrate,
    recompute_read_model,
)

NAME = os.environ.get("BENCH_NAME", "sweep")
EXPIRIES_ALERTS = "alerts-only expiries: alerts (texts, notify)"
DATABASE = f"chorus_bench_{NAME}"
RESULTS = ROOT / "bench" / "results"


def _admin(sql: str, params=None, database: str | None = None):
    import psycopg

    url = _admin_url_for(database) if database else ADMIN_URL
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall() if sql.lstrip().upper().startswith("SELECT") else \
            conn.execute(sql, params)


def copy_of(template: str, name: str) -> str:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER {APP_ROLE}')
    return name


def drop(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seeded_at(database: str) -> datetime | None:
    try:
        rows = _admin("SELECT max(created_at) FROM piece_event", database=database)
    except Exception:
        return None
    return rows[0][0] if rows and rows[0][0] else None


def seed(args) -> datetime:
    """The world as it stood at T0 (returned)."""
    t0 = (datetime.now(timezone.utc) - timedelta(days=args.days_late)).replace(microsecond=0)
    sizes = seeding.Sizes(structures=args.structures, marches=args.marches, pieces=args.pieces,
                          history_days=args.history_days)
    started = time.perf_counter()
    create_database(DATABASE)
    migrate(DATABASE)
    world = seeding.seed(_admin_url_for(DATABASE), sizes, now=t0)
    # The pieces went in with COPY, around the operations that keep the dashboards' read model: build it, so that
    # the sweep replaces real board rows (and their deltas) as it does in production, not fills an empty table.
    built = recompute_read_model(DATABASE)
    print(f"read model built in {built['seconds']:.0f} s", flush=True)
    _admin("CREATE TABLE IF NOT EXISTS bench_sweep_meta (t0 timestamptz)", database=DATABASE)
    _admin("INSERT INTO bench_sweep_meta VALUES (%s)", (t0,), database=DATABASE)
    print(f"seeded {DATABASE}: {args.pieces} pieces at T0 = {t0:%Y-%m-%d %H:%M} in "
          f"{time.perf_counter() - started:.0f} s ({dict(world.counts)})", flush=True)
    return t0


def t0_of(database: str) -> datetime | None:
    try:
        rows = _admin("SELECT t0 FROM bench_sweep_meta", database=database)
    except Exception:
        return None
    return rows[0][0] if rows else None


def app_for(database: str):
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
    from chorus_chain import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": app_database_url(database), "TESTING": False,
                      "REDIS_URL": "", "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 4}})
    # As app.py leaves the clock's process (`flask deadlines clock`): what it keeps for its whole life frozen out of
    # the collector's full collections. Without it, a full collection during the sweep walked the whole application
    # (170 ms of CPU each, here), which the clock no longer does.
    import gc

    gc.collect()
    gc.freeze()
    return app


def count_statements(engine) -> Counter:
    from sqlalchemy import event

    counter: Counter = Counter()

    def before(conn, cursor, statement, parameters, context, executemany):
        counter["statements"] += 1

    event.listen(engine, "before_cursor_execute", before)
    counter["_listener"] = 0
    counter.listener = before  # type: ignore[attr-defined]
    return counter


class Probe:
    """A user acting on the swept pieces while the sweep runs, in a connection of its own: every `pause` seconds it
    locks one of the pieces whose deadline is due (`SELECT … FOR UPDATE`, as a user's action locks its piece) and
    commits at once, timing how long the lock took — the wait a user's action sees behind a batch that holds it.
    (While it holds a piece, the sweep skips that piece, as it skips a user's: `left_due` may count one or two.)"""

    def __init__(self, database: str, now: datetime, limit: int | None, pause: float = 0.02):
        import threading

        self.database, self.pause = database, pause
        rows = _admin("SELECT DISTINCT piece_id FROM (SELECT piece_id FROM deadline WHERE done_at IS NULL AND "
                      "due_at <= %s AND piece_id IS NOT NULL ORDER BY due_at, id LIMIT %s) AS due",
                      (now, limit), database=database)
        self.pieces = [row[0] for row in rows]
        self.waits: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        import random

        import psycopg

        rng = random.Random(20)
        with psycopg.connect(_admin_url_for(self.database)) as conn:
            while not self.stop.wait(self.pause):
                started = time.perf_counter()
                conn.execute("SELECT id FROM piece WHERE id = %s FOR UPDATE", (rng.choice(self.pieces),))
                self.waits.append(time.perf_counter() - started)
                conn.commit()

    def __enter__(self):
        if self.pieces:
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()

    def figures(self) -> dict:
        waits = sorted(self.waits)
        if not waits:
            return {"probes": 0}

        def at(share: float) -> float:
            return round(1000 * waits[min(len(waits) - 1, int(share * len(waits)))], 1)

        return {"probes": len(waits), "wait_ms_p50": at(0.5), "wait_ms_p95": at(0.95), "wait_ms_p99": at(0.99),
                "wait_ms_max": round(1000 * waits[-1], 1), "waited_over_100ms": sum(w > 0.1 for w in waits)}


class Phases:
    """Where a batch's time goes, phase by phase (issue 20: « measure where the wall time goes »): the sweep's own
    functions wrapped for the run, each phase's wall seconds and (outer phases) the process's CPU seconds inside it
    (the rest of its wall time is the database's, or waiting for a core). Inclusive: the events and the notifications are steps of the
    deadlines' handlers, the read model a part of the commit; `report` gives the handlers' and the commit's own rest.
    A phase entered inside itself (none today) is counted once."""

    # (label, module path, owner attribute or None for a module function, function name); a module the tree does
    # not have is skipped (its phase reads 0)
    WRAPPED = (
        ("select due deadlines", "chorus_chain.operations.deadlines", None, "due"),
        ("prepare (lock pieces, reads)", "chorus_chain.operations.sweep.context", "SweepContext", "prepare"),
        ("alerts-only expiries: lock, read, mark done", "chorus_chain.operations.sweep.expiries", "Expiries",
         "apply"),
        ("alerts-only expiries: alerts (texts, notify)", "chorus_chain.operations.sweep.expiries", "Expiries", "tell"),
        ("handlers (transitions, alerts)", "chorus_chain.operations.deadlines", "HANDLERS", None),
        ("  events + hash chain", "chorus_chain.operations.pieces_records", None, "record_event"),
        ("  notify (who, texts)", "chorus_chain.operations.notifications", None, "notify"),
        ("finish: UPDATEs of pieces, clocks", "chorus_chain.operations.sweep.context", "Adopted", "write"),
        ("finish: INSERT events, clocks", "chorus_chain.operations.sweep.context", "BatchRows", "write"),
        ("notifications (bell digest)", "chorus_chain.operations.bell_digest", "BellDigest", "write"),
        ("e-mails + outbox (mail digest)", "chorus_chain.operations.mail_digest", "MailDigest", "write"),
        ("read model (board refresh)", "chorus_chain.operations.board.maintain", None, "flush_pending"),
    )

    def __init__(self):
        self.wall: Counter = Counter()
        self.cpu: Counter = Counter()
        self.undo: list = []
        self.inside: set = set()

    def _wrap(self, label: str, function):
        import functools

        # The CPU clock is a system call (~8 µs here): read for the outer phases only, not around each of the
        # tens of thousands of events and notifications (their wall time only).
        cpu_clock = (lambda: 0.0) if label.startswith("  ") else time.process_time

        @functools.wraps(function)
        def timed(*args, **kwargs):
            if label in self.inside:
                return function(*args, **kwargs)
            # notify inside the alerts-only expiries is theirs, not the handlers' (`report` subtracts it from those)
            booked = f"{label} [expiries]" if label.startswith("  ") and EXPIRIES_ALERTS in self.inside else label
            self.inside.add(label)
            wall, cpu = time.perf_counter(), cpu_clock()
            try:
                return function(*args, **kwargs)
            finally:
                self.wall[booked] += time.perf_counter() - wall
                self.cpu[booked] += cpu_clock() - cpu
                self.inside.discard(label)
        return timed

    def __enter__(self):
        import importlib

        for label, module_name, owner_name, name in self.WRAPPED:
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError:  # a phase of code the tree measured does not have (an A/B's base)
                continue
            if owner_name == "HANDLERS":  # the dispatch table: each handler wrapped in place
                handlers = module.HANDLERS
                saved = dict(handlers)
                handlers.update({kind: self._wrap(label, handler) for kind, handler in saved.items()})
                self.undo.append(lambda handlers=handlers, saved=saved: (handlers.clear(), handlers.update(saved)))
                continue
            owner = getattr(module, owner_name) if owner_name else module
            original = owner.__dict__[name]
            wrapped = self._wrap(label, original.__func__ if isinstance(original, classmethod) else original)
            setattr(owner, name, classmethod(wrapped) if isinstance(original, classmethod) else wrapped)
            self.undo.append(lambda owner=owner, name=name, original=original: setattr(owner, name, original))
        return self

    def __exit__(self, *exc):
        for undo in reversed(self.undo):
            undo()
        self.undo.clear()

    def report(self, seconds: float, cpu: float, commit: float) -> dict:
        found = {label: {"s": round(self.wall[label], 2)} if label.startswith("  ") else
                 {"s": round(self.wall[label], 2), "cpu_s": round(self.cpu[label], 2)} for label, *_ in self.WRAPPED}
        found["  notify within the expiries' alerts"] = {"s": round(self.wall["  notify (who, texts) [expiries]"], 2)}
        handlers = "handlers (transitions, alerts)"
        found["  rest of the handlers"] = {
            "s": round(self.wall[handlers] - self.wall["  events + hash chain"] - self.wall["  notify (who, texts)"], 2)}
        found["COMMIT itself (commit() less the read model)"] = {
            "s": round(commit - self.wall["read model (board refresh)"], 2)}
        counted = sum(self.wall[label] for label, *_ in self.WRAPPED if not label.startswith("  ")) + \
            found["COMMIT itself (commit() less the read model)"]["s"]
        found["unaccounted (loop, bench)"] = {"s": round(seconds - counted, 2)}
        return found


def database_cpu(database: str) -> dict[int, float]:
    """CPU seconds (user + system) of each server process connected to `database`, by pid, read from /proc (the
    server on this machine): on a shared, loaded machine the CPU a run costs the database reads truer than its
    wall time. Empty where /proc is not the server's."""
    found = {}
    for (pid,) in _admin("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def check_read_model(database: str) -> str:
    """`flask board recompute --check` on the swept copy: the read model the sweep maintained batch by batch,
    compared with the pieces (its last line: exact, or how many differences)."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "board", "recompute", "--check"], cwd=ROOT,
                          env=_app_env(database, None), capture_output=True, text=True)
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return f"exit {done.returncode}: {lines[-1] if lines else ''}"


def run_variant(template: str, name: str, now: datetime, batch_size: int, limit: int | None,
                profile: Path | None = None, prepared: bool = True, probe: bool = False,
                check: bool = False, keep_copy: bool = False, copy_suffix: str = "",
                sweepers: int | None = None) -> dict:
    from sqlalchemy import event, func, select

    from chorus_chain.access import system_access
    from chorus_chain.extensions import db
    from chorus_chain.models import Deadline, MailMessage, Notification, OutboxJob, PieceEvent
    from chorus_chain.operations import deadlines

    database = copy_of(template, f"{template}_{name}{copy_suffix}")
    app = app_for(database)
    try:
        with app.app_context():
            statements = Counter()
            spent: Counter = Counter()  # seconds per kind of statement (its first words), and the commits

            def before(conn, cursor, statement, parameters, context, executemany):
                statements["n"] += 1
                conn.info["bench_started"] = time.perf_counter()

            def after(conn, cursor, statement, parameters, context, executemany):
                spent[_kind_of(statement)] += time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())

            with system_access("bench: counts"):
                due = db.session.scalar(select(func.count()).select_from(Deadline).where(
                    Deadline.done_at.is_(None), Deadline.due_at <= now))
                horizon = db.session.scalar(select(func.max(Deadline.id)))
                before_rows = {t.__tablename__: db.session.scalar(select(func.count()).select_from(t))
                               for t in (PieceEvent, Notification, MailMessage, OutboxJob)}
            db.session.commit()
            event.listen(db.engine, "before_cursor_execute", before)
            event.listen(db.engine, "after_cursor_execute", after)
            profiler = None
            if profile is not None:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            user = Probe(database, now, limit) if probe else nullcontext()
            # The phases' timers are one set for the process: with sweepers in threads (`--sweepers`) they would
            # book one thread's time inside another's phase; the run then reports totals only.
            phases = Phases() if sweepers is None else nullcontext()
            server_cpu = database_cpu(database)
            started = time.perf_counter()
            cpu = time.process_time()
            result = {"done": 0, "applied": 0, "batches": 0}
            batch_seconds = []  # each batch from its first statement to its commit: how long it holds its pieces
            batch_started = started
            with user, phases:
                if sweepers is not None:  # the clock's own code: jobs.sweepers, N at once, a commit per batch
                    from chorus_chain.jobs import sweepers as clock_sweepers

                    if limit is not None:
                        raise SystemExit("--sweepers sweeps every due deadline: no --batch-limit")
                    result = clock_sweepers.sweep(now, sweepers, batch_size=batch_size)
                for done, applied in (() if sweepers is not None else
                                      deadlines.in_batches(now, limit, batch_size=batch_size, prepared=prepared)):
                    committing = time.perf_counter()
                    db.session.commit()  # as the clock does (jobs.clock.tick)
                    spent["commit() (its statements also counted above)"] += time.perf_counter() - committing
                    batch_seconds.append(time.perf_counter() - batch_started)
                    batch_started = time.perf_counter()
                    result["done"] += done
                    result["applied"] += applied
                    result["batches"] += 1
            seconds = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(str(profile))
            cpu = time.process_time() - cpu
            server_after = database_cpu(database)
            server_cpu = sum(seconds - server_cpu.get(pid, 0.0) for pid, seconds in server_after.items())
            event.remove(db.engine, "before_cursor_execute", before)
            event.remove(db.engine, "after_cursor_execute", after)
            with system_access("bench: counts"):
                left = db.session.scalar(select(func.count()).select_from(Deadline).where(
                    Deadline.done_at.is_(None), Deadline.due_at <= now, Deadline.id <= horizon))
                after_rows = {t.__tablename__: db.session.scalar(select(func.count()).select_from(t))
                              for t in (PieceEvent, Notification, MailMessage, OutboxJob)}
                broken = verify_chains(now)
            db.session.commit()
        read_model = check_read_model(database) if check else None
    finally:
        from chorus_chain.extensions import db as _db

        with app.app_context():
            _db.engine.dispose()
        if not keep_copy:
            drop(database)
    done = result["done"]
    return {"variant": name, "batch_size": batch_size, "prepared": prepared, "due": due, "done": done, "applied": result["applied"],
            "batches": result.get("batches"), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "database_cpu_seconds": round(server_cpu, 2),
            "per_second": round(done / seconds, 1) if seconds else None,
            "ms_each": round(1000 * seconds / done, 3) if done else None,
            "statements_each": round(statements["n"] / done, 2) if done else None,
            "written": {k: after_rows[k] - before_rows[k] for k in after_rows}, "left_due": left,
            "broken_chains": broken, "read_model_check": read_model,
            "batch_seconds": {"median": round(sorted(batch_seconds)[len(batch_seconds) // 2], 2),
                              "max": round(max(batch_seconds), 2)} if batch_seconds else None,
            "user_waits": user.figures() if probe else None,
            "sweepers": sweepers, "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "phases": phases.report(seconds, cpu, spent["commit() (its statements also counted above)"])
            if sweepers is None else None,
            "seconds_by_statement": {
                kind: round(seconds, 2) for kind, seconds in spent.most_common(16)}}


def _kind_of(statement: str) -> str:
    """A statement's kind for the timings: its verb and table (the first words that say which)."""
    words = statement.split()
    if not words:
        return "?"
    verb = words[0].upper()
    if verb in ("INSERT", "DELETE"):
        return " ".join(words[:3])
    found = re.search(r'\bUPDATE\s+("?\w+"?)\s+SET\s+(.*?)\s+FROM\b', statement, re.DOTALL)
    if found:  # `UPDATE t SET … FROM`, or `WITH r AS (…) UPDATE t SET … FROM r` (operations.bulk)
        return f"UPDATE {found.group(1)} SET {found.group(2)[:80]}"
    if verb == "SELECT":
        found = re.search(r"\sFROM\s+([\w\".]+)", statement, re.IGNORECASE)
        return f"SELECT … FROM {found.group(1).lower() if found else '?'}"
    return " ".join(words[:2])


def verify_chains(now: datetime) -> int:
    """The hash chains of the pieces the sweep applied a deadline of (what `flask audit verify` checks, on those
    pieces): how many are broken."""
    from sqlalchemy import select

    from chorus_chain.domain import audit_chain
    from chorus_chain.extensions import db
    from chorus_chain.models import Deadline, PieceEvent
    from chorus_chain.operations import pieces_records as records

    swept = select(Deadline.piece_id).where(Deadline.done_at == now, Deadline.piece_id.is_not(None))
    query = select(PieceEvent).where(PieceEvent.piece_id.in_(swept)).order_by(PieceEvent.piece_id, PieceEvent.seq)
    broken, head = set(), {}
    for event in db.session.scalars(query).yield_per(5000):
        prev = head.get(event.piece_id, audit_chain.GENESIS)
        if event.prev_hash != prev or event.hash != audit_chain.event_hash(prev, records.payload_of(event)):
            broken.add(event.piece_id)
        head[event.piece_id] = event.hash
    return len(broken)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pieces", type=int, default=100_000)
    parser.add_argument("--structures", type=int, default=240)
    parser.add_argument("--marches", type=int, default=120)
    parser.add_argument("--history-days", type=int, default=25,
                        help="pieces deposited over these last days before T0 (most of them still under way)")
    parser.add_argument("--days-late", type=int, default=60,
                        help="the sweep runs this many days after the world's instant (every clock due since)")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=None)
    parser.add_argument("--one-by-one-limit", type=int, default=2000)
    parser.add_argument("--batch-limit", type=int, default=None, help="deadlines the batch runs take (default: all)")
    parser.add_argument("--keep", action="store_true", help="re-use the seeded world, keep it at the end")
    parser.add_argument("--quick", action="store_true", help="3 000 pieces, small runs")
    parser.add_argument("--only", choices=["one-by-one", "batch"], default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--probe", action="store_true",
                        help="a user locking due pieces while the batch runs sweep: their waits (p50, p95, max)")
    parser.add_argument("--check-read-model", action="store_true",
                        help="after each batch run: flask board recompute --check on the swept copy (0 differences)")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile of the (last) batch run to this file")
    parser.add_argument("--keep-copy", action="store_true",
                        help="keep each swept copy (named after the template and the run) to compare its rows with "
                             "another tree's (bench/compare_swept.py); drop it yourself")
    parser.add_argument("--copy-suffix", default="",
                        help="added to the swept copies' names (each run replaces a copy of the same name: two runs "
                             "of one template at once, or a kept copy to compare, need their own)")
    parser.add_argument("--sweepers", type=int, default=None,
                        help="sweep as the clock does with N sweepers at once (jobs.sweepers; 1: the same code, one "
                             "sweeper): totals only, no phases")
    parser.add_argument("--database", default=None,
                        help="sweep copies of this kept world (it must hold its bench_sweep_meta row, its T0) instead "
                             "of chorus_bench_$BENCH_NAME: an A/B pair sweeps two copies of one seeding at once")
    args = parser.parse_args(argv)
    if args.database:
        global DATABASE
        DATABASE, args.keep = args.database, True
    if args.quick:
        args.pieces, args.one_by_one_limit = min(args.pieces, 3_000), min(args.one_by_one_limit, 300)
    from chorus_chain.operations import deadlines

    t0 = t0_of(DATABASE) if args.keep else None
    if t0 is None:
        t0 = seed(args)
    else:
        migrate(DATABASE)  # a kept world follows the schema (a migration landed since it was seeded)
        if _read_model_empty(DATABASE):  # seeded before this script built the read model
            print(f"read model built in {recompute_read_model(DATABASE)['seconds']:.0f} s", flush=True)
    # The planner's statistics of the world, as autovacuum keeps them in production: seeded then analyzed before its
    # read model was built, the world's board_row had the statistics of an empty table, and every copy inherited
    # them — the refresh's statements on board_row were planned as sequential scans until autovacuum came by
    # (DELETE FROM board_row: 3.4 s → 1.0 s for 10 000 deadlines once analyzed, same code).
    _admin("ANALYZE", database=DATABASE)
    now = t0 + timedelta(days=args.days_late)
    results = []
    try:
        if args.only in (None, "one-by-one"):
            results.append(run_variant(DATABASE, "one_by_one", now, deadlines.BATCH_SIZE, args.one_by_one_limit,
                                       prepared=False))
            print(json.dumps(results[-1]), flush=True)
        if args.only in (None, "batch"):
            for size in args.batch_sizes or [deadlines.BATCH_SIZE]:
                results.append(run_variant(DATABASE, f"batch_{size}", now, size, args.batch_limit, args.profile,
                                           probe=args.probe, check=args.check_read_model,
                                           keep_copy=args.keep_copy, copy_suffix=args.copy_suffix,
                                           sweepers=args.sweepers))
                print(json.dumps(results[-1]), flush=True)
    finally:
        if not args.keep:
            drop(DATABASE)
    report = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "pieces": args.pieces,
              "days_late": args.days_late, "cpu_count": os.cpu_count(),
              "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "runs": results}
    if len(results) > 1 and results[0]["ms_each"]:
        for run in results[1:]:
            run["speedup_per_deadline"] = round(results[0]["ms_each"] / run["ms_each"], 1)
    path = args.json or RESULTS / f"deadline_sweep-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    print(f"figures written to {path}")
    return report


if __name__ == "__main__":
    main()
