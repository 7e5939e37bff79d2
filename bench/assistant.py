"""Benchmark: the assistant's evaluation set (tests/assistant_eval.py) — share answered correctly, share answered
wrongly with confidence, and the time per answer, with a baseline measured in the same run.

What it does:
1. creates a fresh PostgreSQL database (owned by the ordinary role `chorus_app`, as in production and the tests:
   row-level security applies), migrates it with the real migrations and seeds the demo (`demo.seed()`);
   `--sqlite` uses a temporary SQLite file instead (the embedded default of `make run`);
2. asks every question of the set `--rounds` times, each as its asker (the structure's tenant set, the member's
   rights), timing each answer (`brain.answer`: reading, the database reads under the access predicate, the help
   centre's search, the words); the first round also warms the help index and the caches up and is not timed;
3. times a baseline in the same run: one piece page's query (`pieces_queries.piece_for`, one SELECT through the same
   access predicate) — so the ratio says what an answer costs compared with the cheapest page read;
4. prints the share correct (target ≥ 90 %), the share wrong with confidence (target 0), p50 / p95 / max per answer
   (target p95 < 200 ms on this machine), the baseline and the ratio, and the questions that were not correct.

    .venv/bin/python bench/assistant.py              # 5 rounds on PostgreSQL
    .venv/bin/python bench/assistant.py --rounds 2 --sqlite
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("CHORUS_ENV", "development")  # a throwaway secret key, as `make run`
ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
APP_ROLE = "chorus_app"
DATABASE = "chorus_bench_assistant"


def _postgres_url() -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).scalar():
            conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}" OWNER {APP_ROLE}'))
    admin.dispose()
    return ADMIN_URL.rsplit("/", 1)[0].replace("://postgres@", f"://{APP_ROLE}@") + f"/{DATABASE}"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite database instead of PostgreSQL")
    args = parser.parse_args()

    url = f"sqlite:///{tempfile.mkdtemp()}/bench.db" if args.sqlite else _postgres_url()
    from flask_migrate import upgrade
    from sqlalchemy import select

    from chorus_chain import create_app, demo
    from chorus_chain.access import tenant
    from chorus_chain.extensions import db
    from chorus_chain.models import Piece
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations.pieces_queries import piece_for
    from tests import assistant_eval as E

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": {}, "REDIS_URL": None,
                      "SERVER_NAME": "localhost"})
    with app.app_context():
        upgrade()
        demo.seed()
        db.session.commit()
    now = utcnow()
    times: list[float] = []
    baseline: list[float] = []
    verdicts = []
    with app.test_request_context():
        for round_ in range(args.rounds + 1):
            result = E.run(now)
            db.session.rollback()
            if round_ == 0:
                verdicts = result
                continue
            times.extend(v.seconds for v in result)
            for verdict in result:  # the baseline, interleaved: one piece page's read per answer
                structure, _ = E.asker(verdict.case.who)
                with tenant(structure.id):
                    piece_id = db.session.scalar(select(Piece.id).limit(1))
                    started = time.perf_counter()
                    piece_for(structure, piece_id or 0)
                    baseline.append(time.perf_counter() - started)
                db.session.rollback()

    total = len(verdicts)
    correct = sum(v.outcome == E.CORRECT for v in verdicts)
    wrong = sum(v.outcome == E.WRONG for v in verdicts)
    p50, p95 = statistics.median(times) * 1000, _percentile(times, 0.95) * 1000
    base50 = statistics.median(baseline) * 1000
    print(f"database          {'SQLite' if args.sqlite else 'PostgreSQL'} (demo), {args.rounds} rounds of "
          f"{total} questions, {os.cpu_count()} CPUs")
    print(f"correct           {correct}/{total} = {correct / total:.1%}   (target ≥ 90 %)")
    print(f"wrong, confident  {wrong}/{total} = {wrong / total:.1%}   (target 0)")
    print(f"not answered      {total - correct - wrong}/{total}")
    held = [v for v in verdicts if v.case in E.HELD_OUT]
    print(f"  of which held out (written after tuning): {sum(v.outcome == E.CORRECT for v in held)}/{len(held)} "
          f"correct, {sum(v.outcome == E.WRONG for v in held)} wrong with confidence")
    print(f"time per answer   p50 {p50:.1f} ms   p95 {p95:.1f} ms   max {max(times) * 1000:.1f} ms   "
          "(target p95 < 200 ms)")
    print(f"baseline          piece page read p50 {base50:.2f} ms   → answer p50 = {p50 / base50:.1f}× baseline")
    for verdict in verdicts:
        if verdict.outcome != E.CORRECT:
            print(f"  [{verdict.outcome}] {verdict.case.who}: {verdict.case.question!r} → {verdict.answer.text} "
                  f"{verdict.problems}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
