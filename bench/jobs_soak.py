"""Soak benchmark of the durable jobs (issue 14): deposits, validations and PDF requests for a few minutes while faults
are injected at random — a work horse killed, Redis killed and restarted empty, PostgreSQL restarted, the SMTP server
refusing or hanging. Then it waits for everything to settle and reports:

- jobs lost (target 0): e-mails never delivered, documents never done, outbox rows never finished;
- duplicates (target 0): e-mails delivered more than once (by Message-ID, the outbox row's own);
- recovery time after each fault: from the end of the fault to the first e-mail delivered after it (p50, p95, max);
- the whole run's throughput (e-mails delivered a second), for comparing runs on the same machine.

It uses the fault suite's harness (tests/faults/harness.py): its own PostgreSQL and Redis on spare loopback ports, a
real SMTP sink, the Procfile's processes as subprocesses under a supervisor. Not a test: it asserts nothing, and its
figures depend on the machine; compare runs side by side.

    .venv/bin/python bench/jobs_soak.py --minutes 3 --seed 14
    .venv/bin/python bench/jobs_soak.py --minutes 0.5 --json bench/results/jobs_soak.json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults.harness import Stack, children, wait_for  # noqa: E402
from tests.faults import test_faults as suite  # noqa: E402


def _p(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--fault-every", type=float, default=12.0, help="seconds between two faults (mean)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.environ.setdefault("SECRET_KEY", "soak")  # the benchmark's own app, outside development

    stack = Stack(secret="soak", backoff_max=4, max_attempts=40, lease=10, stall=5)
    processes = stack.processes
    faults: list[tuple[str, float]] = []  # (kind, instant the fault ended)
    actions = {"deposits": 0, "validations": 0, "documents": 0, "mails_queued_directly": 0}
    try:
        processes.clock()
        documents_worker = processes.worker("documents", slow_render=0.5)
        processes.worker("mail")
        processes.worker("mail")
        w = suite.the_world(stack)
        end = time.monotonic() + args.minutes * 60
        next_fault = time.monotonic() + rng.expovariate(1 / args.fault_every)
        while time.monotonic() < end:
            try:
                _act(stack, w, rng, actions)
            except Exception as exc:  # the database is restarting: the user's request fails, nothing to keep
                print(f"  action refused during a fault: {type(exc).__name__}", flush=True)
                time.sleep(0.5)
            if time.monotonic() >= next_fault:
                kind = rng.choice(["horse", "redis", "postgres", "smtp_refuse", "smtp_hang"])
                print(f"{time.strftime('%H:%M:%S')} fault: {kind}", flush=True)
                _inject(stack, kind, documents_worker, rng)
                faults.append((kind, time.monotonic()))
                next_fault = time.monotonic() + rng.expovariate(1 / args.fault_every)
        stack.sink.mode = "accept"
        settle_started = time.monotonic()
        wait_for(lambda: suite._outbox_settled(stack.app), 600, "the outbox to settle", interval=1)
        settled_in = time.monotonic() - settle_started
        report = _report(stack, faults, actions, settled_in, args)
    finally:
        stack.close()
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def _act(stack, w, rng, actions) -> None:
    from chorus_chain.models.base import utcnow
    from tests.integration.pieces_world import act

    roll = rng.random()
    if roll < 0.45:
        piece_id = suite.deposit_now(stack)
        actions["deposits"] += 1
        if rng.random() < 0.6:
            act(stack.app, w.mandataire, piece_id, "validate", now=utcnow())
            actions["validations"] += 1
        if rng.random() < 0.3:
            suite.ask_pdfs(stack, [piece_id])
            actions["documents"] += 1
    else:
        suite.queue_mails(stack.app, rng.randint(1, 3), f"soak-{rng.randrange(10**9)}")
        actions["mails_queued_directly"] += 1
    time.sleep(rng.uniform(0.05, 0.3))


def _inject(stack, kind: str, documents_worker, rng) -> None:
    if kind == "horse":
        for pid in children(documents_worker.pid) if documents_worker.poll() is None else []:
            os.kill(pid, 9)
    elif kind == "redis":
        stack.redis.kill()
        time.sleep(rng.uniform(1, 4))
        stack.redis.start()
    elif kind == "postgres":
        stack.postgres.restart(down_seconds=rng.uniform(1, 4))
    elif kind in ("smtp_refuse", "smtp_hang"):
        stack.sink.mode, stack.sink.hang_seconds = kind.removeprefix("smtp_"), 4
        time.sleep(rng.uniform(2, 6))
        stack.sink.mode = "accept"


def _report(stack, faults, actions, settled_in, args) -> dict:
    from chorus_chain.access import system_access
    from chorus_chain.extensions import db
    from chorus_chain.jobs.mail import message_id
    from chorus_chain.models import GeneratedDocument, MailMessage, OutboxJob

    app, sink = stack.app, stack.sink
    with app.app_context(), system_access("soak report"):
        mails = db.session.scalars(db.select(MailMessage)).all()
        counts = sink.counts()
        lost_mails = [m.id for m in mails if counts[message_id(m.id)] == 0]
        duplicates = {k: n for k, n in counts.items() if n > 1}
        # what an operator needs to find a duplicate in the workers' logs: the row, its tries, when each copy arrived
        by_message = {message_id(m.id): m for m in mails}
        outbox_rows = {row.payload.get("mail_id"): row for row in db.session.scalars(
            db.select(OutboxJob).where(OutboxJob.job == "send_mail"))}
        duplicate_details = [
            {"message_id": key, "copies": n, "mail_id": by_message[key].id if key in by_message else None,
             "mail_attempts": by_message[key].attempts if key in by_message else None,
             "outbox_id": outbox_rows[by_message[key].id].id if key in by_message and by_message[key].id in outbox_rows
             else None,
             "outbox_attempts": outbox_rows[by_message[key].id].attempts
             if key in by_message and by_message[key].id in outbox_rows else None,
             "delivered_at": [time.strftime("%H:%M:%S", time.localtime(time.time() - (time.monotonic() - when)))
                              for message, when in sink.delivered if message == key]}
            for key, n in duplicates.items()]
        statuses = dict(db.session.execute(db.select(OutboxJob.status, db.func.count())
                                           .group_by(OutboxJob.status)).all())
        documents = dict(db.session.execute(db.select(GeneratedDocument.status, db.func.count())
                                            .group_by(GeneratedDocument.status)).all())
    deliveries = sorted(when for _, when in sink.delivered)
    recoveries: dict[str, list[float]] = {}
    for kind, ended in faults:
        after = next((when for when in deliveries if when >= ended), None)
        if after is not None:
            recoveries.setdefault(kind, []).append(after - ended)
    every = [value for values in recoveries.values() for value in values]
    span = (deliveries[-1] - deliveries[0]) if len(deliveries) > 1 else 0.0
    return {
        "minutes": args.minutes, "seed": args.seed, "actions": actions, "faults": len(faults),
        "faults_by_kind": {kind: sum(1 for k, _ in faults if k == kind) for kind in sorted({k for k, _ in faults})},
        "mails": len(mails), "mails_delivered": len(counts), "jobs_lost": len(lost_mails)
        + statuses.get("failed", 0) + statuses.get("pending", 0) + documents.get("queued", 0)
        + documents.get("running", 0),
        "duplicates": sum(n - 1 for n in duplicates.values()),
        "duplicate_details": duplicate_details,
        "outbox": statuses, "documents": documents,
        "recovery_seconds": {"p50": round(statistics.median(every), 2) if every else None,
                             "p95": round(_p(every, 0.95), 2), "max": round(max(every), 2) if every else None,
                             "by_kind_p95": {kind: round(_p(values, 0.95), 2) for kind, values in recoveries.items()}},
        "settled_after_last_fault_seconds": round(settled_in, 1),
        "mails_per_second": round(len(deliveries) / span, 2) if span else None,
        "process_restarts": stack.processes.restarts,
        "logs": str(stack.processes.logs),
    }


if __name__ == "__main__":
    raise SystemExit(main())
