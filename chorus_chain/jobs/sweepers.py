"""The clock's deadline sweep as N sweepers at once (issue 20), each a thread of the clock's process with its own
application context, session and connection, each committing its batches as the one sweeper did.

Why: one sweeper is one process alternating with its database backend — while the backend plans and writes a
batch, the Python waits, and while the Python builds the next one, the backend idles — so on the 2-core machine one
core idled through the sweep (bench/deadline_sweep.py: the process's CPU and the database's were each about half).
Two sweepers fill both: one's Python runs while the other's statements do.

Why threads of the clock, not rq jobs on `sweeps`, nor processes:
- The clock needs only PostgreSQL (`jobs.clock`: Redis down, the legal dates still move); a sweep handed to rq
  workers would stop with Redis, and a job rq lost would wait for a janitor rather than the next tick.
- Threads share the clock's one application, loaded and frozen once (`app.py`'s `gc.freeze`). The GIL lets one
  thread run Python at a time, which is what the process's share of a sweep is anyway (half of its CPU): the gain
  here is the overlap of one sweeper's Python with the other's database work, which threads give. Processes would
  also run the Python of both at once (a machine with more cores), at the price of forking an application holding
  a connection pool; not needed for the overlap measured.

**Who takes what.** The k-th sweeper takes the due deadlines of the pieces whose id is k modulo N
(`deadlines.share_of`: a piece's deadlines are all one sweeper's, so they never wait on each other's pieces), each
in its batches' order, every one with the same `now` and the same horizon (the last deadline's id when the tick
started: the clocks the sweep opens wait for the next tick, as with one sweeper). The row locks stay (`due`'s
FOR UPDATE SKIP LOCKED): a manual `flask deadlines sweep` beside the clock still never applies a deadline twice.

**A sweeper that dies** (an error, its connection lost) rolls back the batch under way; what it committed stays, and
the rest of its share is due at the next tick, as when the one sweeper died. The others finish their shares; the
tick then raises the first error (`jobs.clock.run_forever` logs it and ticks again), as one sweeper's error did.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime

from flask import current_app

from chorus_chain.extensions import db

log = logging.getLogger(__name__)


def sweep(now: datetime, sweepers: int, *, batch_size: int | None = None) -> dict[str, int]:
    """Apply every deadline due at `now` by `sweepers` sweepers at once, each committing after each of its batches;
    returns {"done": n, "applied": m, "batches": b}. One sweeper runs in the caller's thread and session, as the
    clock always did; several run in threads of their own (PostgreSQL only: SQLite has neither row locks nor
    concurrent writers)."""
    from chorus_chain.operations import deadlines

    size = batch_size or deadlines.BATCH_SIZE
    if sweepers <= 1 or db.engine.dialect.name != "postgresql":
        return _sweep_share(now, None, None, size)
    horizon = deadlines.horizon_now()
    db.session.commit()  # the caller's transaction is not held idle while the sweepers work
    app = current_app._get_current_object()
    results: list[dict[str, int] | BaseException | None] = [None] * sweepers

    def run(k: int) -> None:
        try:
            with app.app_context():
                results[k] = _sweep_share(now, (k, sweepers), horizon, size)
        except BaseException as error:  # noqa: BLE001 — reported by the tick, after the others finished
            log.exception("deadline sweeper %d of %d failed; its share's rest is due at the next tick", k, sweepers)
            results[k] = error

    threads = [threading.Thread(target=run, args=(k,), name=f"deadline-sweeper-{k}") for k in range(sweepers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [result for result in results if isinstance(result, BaseException)]
    if failed:
        raise failed[0]
    return {key: sum(result[key] for result in results) for key in ("done", "applied", "batches")}


def _sweep_share(now: datetime, share: tuple[int, int] | None, horizon: int | None,
                 batch_size: int) -> dict[str, int]:
    """One sweeper: its share of the due deadlines, a commit after each batch (`jobs.clock.tick`'s loop)."""
    from chorus_chain.access import system_access
    from chorus_chain.operations.deadlines import in_batches

    result = {"done": 0, "applied": 0, "batches": 0}
    with system_access("deadline sweeper: every tenant's clocks"):
        try:
            for done, applied in in_batches(now, batch_size=batch_size, share=share, horizon=horizon):
                db.session.commit()
                result["done"] += done
                result["applied"] += applied
                result["batches"] += 1
        except BaseException:
            db.session.rollback()  # the batch under way: its deadlines stay due for the next tick
            raise
    return result
