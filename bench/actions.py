"""Actions per second on pieces (a validator's « valider », then the maître d'œuvre's « prendre en compte »), beside
the app's trivial route (/healthz) in the same run and the same process: a ratio, not a timed test (issue 20: the
cost the read model adds to a transition). Also the SQL statements of one action, counted.

Each action goes through the operation the portal's POST calls (`pieces.act`, in a request context of the acting
structure, committed), on PostgreSQL (`chorus_bench_actions` or `BENCH_ACTIONS_DATABASE`, created and dropped), jobs
inline (no Redis: the e-mails' rendering is in the figure, equally before and after).

    .venv/bin/python bench/actions.py                 # 200 pieces: 200 validations, 200 « prendre en compte »
    .venv/bin/python bench/actions.py --pieces 50
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import rates  # noqa: E402
from dashboards import app_database_url, create_database, drop_database  # noqa: E402

DATABASE = os.environ.get("BENCH_ACTIONS_DATABASE", "chorus_bench_actions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pieces", type=int, default=200, help="pieces deposited, then validated and taken")
    parser.add_argument("--trivial", type=int, default=500, help="requests to /healthz")
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
    create_database(DATABASE)
    try:
        run(args)
    finally:
        drop_database(DATABASE)


def run(args) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import event

    from chorus_chain import access, create_app
    from chorus_chain.extensions import db
    from chorus_chain.models import Account, Structure
    from chorus_chain.operations import pieces as ops
    from tests.integration import pieces_world as pw

    app = create_app({"SQLALCHEMY_DATABASE_URI": app_database_url(DATABASE), "REDIS_URL": None,
                      "SERVER_NAME": "localhost", "BASE_URL": "http://localhost", "SESSION_COOKIE_SECURE": False})
    logging.getLogger("chorus_chain").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
    w = pw.world(app)
    http = app.test_client()
    # Small amounts: hundreds of them stay under the sous-traitant's DC4 ceiling.
    ids = [pw.deposit(app, w, w.st1, "A10", f"B-{n:05d}", ht="10.00") for n in range(args.pieces + 1)]
    warm, ids = ids[0], ids[1:]
    statements: list[int] = []

    def act(who, piece_id, action, expected, day):
        with app.test_request_context(), access.tenant(who.structure_id):
            account = db.session.get(Account, who.account_id)
            structure = db.session.get(Structure, who.structure_id)
            ops.act(piece_id, account, structure, action, expected_status=expected, now=pw.later(day))
            db.session.commit()

    def counted(call):
        with app.app_context():
            engine = db.engine
        seen = []

        def count(*_):
            seen.append(1)

        event.listen(engine, "before_cursor_execute", count)
        try:
            call()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        statements.append(len(seen))

    def timed(label: str, count: int, call) -> float:
        return rates.timed(label, count, call, 34)

    def trivial():
        for _ in range(args.trivial):
            assert http.get("/healthz").status_code == 200

    counted(lambda: act(w.mandataire, warm, "validate", "A_VALIDER_1", 1))  # warm-up, counted
    counted(lambda: act(w.moe, warm, "take", "A_ASSOCIER_MOE", 2))
    print(f"PostgreSQL, in-process, jobs inline; {os.cpu_count()} CPUs; {args.pieces} pieces")
    base = timed("GET /healthz (trivial)", args.trivial, trivial)
    validate = timed("act: validate (validation_1)", len(ids),
                     lambda: [act(w.mandataire, piece_id, "validate", "A_VALIDER_1", 1) for piece_id in ids])
    take = timed("act: take (moe)", len(ids),
                 lambda: [act(w.moe, piece_id, "take", "A_ASSOCIER_MOE", 2) for piece_id in ids])
    print(f"a validation costs {base / validate:.1f} trivial requests, a « prendre en compte » {base / take:.1f}; "
          f"SQL statements of one: validate {statements[0]}, take {statements[1]}")


if __name__ == "__main__":
    main()
