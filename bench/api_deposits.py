"""Deposits per second through the API (/api/v1), single and in batches of 100, on PostgreSQL, beside the app's
trivial route (/healthz) in the same run and the same process: a ratio, not a timed test (issue 17).

Each deposit is a real projet de décompte (A4 of the pieces world's mandataire: create the draft, pre-flight check,
freeze the route, access rows, hash-chained events, clocks, notifications) sent by POST /api/v1/pieces with
`envoyer: true`, or 100 at a time by POST /api/v1/depots/lot (a savepoint per piece). The requests go through the
WSGI app in-process (Flask's test client): no network, no gunicorn — what is measured is the application and the
database. As in production, the outbox rows (the notification e-mails) are handed to rq on Redis after the commit
(`BENCH_REDIS_URL`, its queues emptied at the end) and no worker runs them: the request pays for queuing an e-mail,
the mail worker for rendering and sending it. `--inline` runs the jobs inside the request instead (`make run`'s
embedded default, no Redis).

    .venv/bin/python bench/api_deposits.py                  # 200 single deposits, 5 batches of 100
    .venv/bin/python bench/api_deposits.py --single 50 --batches 2
    .venv/bin/python bench/api_deposits.py --inline         # jobs run in the request (no Redis)
"""
from __future__ import annotations

import argparse
import re
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import rates  # noqa: E402
from dashboards import app_database_url, create_database, drop_database  # noqa: E402

DATABASE = os.environ.get("BENCH_API_DATABASE", "chorus_bench_api")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--single", type=int, default=200, help="single deposits")
    parser.add_argument("--batches", type=int, default=5, help="batches of 100 deposits")
    parser.add_argument("--trivial", type=int, default=500, help="requests to /healthz")
    parser.add_argument("--inline", action="store_true", help="run the jobs inside the request (no Redis)")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the batches to FILE")
    parser.add_argument("--census", action="store_true",
                        help="count the SQL statements of one more batch of 100, by statement, and print them")
    args = parser.parse_args()

    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
    create_database(DATABASE)
    try:
        run(args)
    finally:
        drop_database(DATABASE)


def run(args) -> None:
    from flask_migrate import upgrade

    from chorus_chain import create_app
    from tests.integration import pieces_world as pw
    from tests.integration.api_world import bearer

    redis_url = None if args.inline else REDIS_URL
    app = create_app({"SQLALCHEMY_DATABASE_URI": app_database_url(DATABASE), "REDIS_URL": redis_url,
                      "API_RATE_LIMIT": "1000000 per minute", "SERVER_NAME": "localhost",
                      "BASE_URL": "http://localhost", "SESSION_COOKIE_SECURE": False})
    logging.getLogger("chorus_chain").setLevel(logging.WARNING)  # the inline e-mails' log lines
    with app.app_context():
        upgrade()
    w = pw.world(app)
    http = app.test_client()
    auth = bearer(app, http, w.mandataire.structure_id, w.mandataire.account_id)
    form = pw.draft_form(app, w, w.mandataire, "A4", "X")

    def body(number: str) -> dict:
        return {"marche_id": w.marche_id, "partie_id": w.mandataire.party_id, "cadre": "A4", "numero": number,
                "date_emission": form["issue_date"], "montant_ht": "1000.00", "montant_tva": "200.00",
                "montant_ttc": "1200.00", "siret_destinataire": form["recipient_siret"],
                "code_service": form["service_code"] or None, "numero_engagement": form["engagement_number"] or None,
                "compte_bancaire_id": form["bank_account_id"], "envoyer": True,
                "fichier": {"nom": "pdm.pdf", "contenu_base64": "JVBERi0xLjQKJSVFT0YK"}}

    def timed(label: str, count: int, call) -> float:
        return rates.timed(label, count, call, 28)

    def trivial():
        for _ in range(args.trivial):
            assert http.get("/healthz").status_code == 200

    def singles():
        for n in range(args.single):
            response = http.post("/api/v1/pieces", json=body(f"B-S-{n:05d}"), headers=auth)
            assert response.status_code == 201, response.get_data(as_text=True)

    def batches():
        for b in range(args.batches):
            response = http.post("/api/v1/depots/lot", headers=auth,
                                 json={"pieces": [body(f"B-L-{b:03d}-{n:03d}") for n in range(100)]})
            assert response.status_code == 201 and response.get_json()["creees"] == 100, \
                response.get_data(as_text=True)[:500]

    http.post("/api/v1/pieces", json=body("B-WARM"), headers=auth)  # warm-up: first queries, template caches
    jobs = "jobs inline" if args.inline else f"jobs queued on {redis_url}"
    print(f"PostgreSQL, in-process WSGI, {jobs}; {os.cpu_count()} CPUs")
    try:
        base = timed("GET /healthz (trivial)", args.trivial, trivial)
        single = timed("POST /pieces (envoyer)", args.single, singles)
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            batch = timed("POST /depots/lot (x100)", args.batches * 100, lambda: profiler.runcall(batches))
            profiler.dump_stats(args.profile)
        else:
            batch = timed("POST /depots/lot (x100)", args.batches * 100, batches)
        print(f"single deposit costs {base / single:.0f} trivial requests; a batched one {base / batch:.0f}; "
              f"batch/single {batch / single:.2f}x")
        if args.census:
            census(app, lambda: http.post("/api/v1/depots/lot", headers=auth,
                                          json={"pieces": [body(f"B-C-{n:03d}") for n in range(100)]}))
    finally:
        if redis_url:
            _empty_queues(app)


def census(app, call) -> None:
    """The SQL statements one call makes, grouped by their text (literals are bound parameters already)."""
    from collections import Counter

    from sqlalchemy import event

    from chorus_chain.extensions import db

    with app.app_context():
        engine = db.engine
    counts: Counter[str] = Counter()

    def count(conn, cursor, statement, parameters, context, executemany):
        counts[re.sub(r"sa_savepoint_\d+", "sa_savepoint_N", " ".join(statement.split()))[:200]] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    total = sum(counts.values())
    print(f"census: {total} statements for a batch of 100 ({total / 100:.1f} a deposit)")
    for text, n in counts.most_common():
        print(f"{n:>6}  {text}")


def _empty_queues(app) -> None:
    """Nothing runs the queued jobs here: leave Redis as we found it."""
    from chorus_chain.jobs.queue import QUEUES, get_queue

    with app.app_context():
        for name in QUEUES:
            get_queue(name).empty()


if __name__ == "__main__":
    main()
