"""Python's cyclic garbage collector held off for one batch of the sweep (issue 20).

Why: a batch of 500 deadlines allocates a few hundred thousand objects (ORM rows and their states, events' values,
the bulk rows' JSON), all alive until the batch's end. Each time its allocations pass the collector's threshold, the
collector walks the young objects — all of them still alive, so for nothing — and now and then every object of the
process, the application's own (SQLAlchemy's mappers, the templates, the transition table): CPU spent finding no
garbage. Held off for the batch, the collector runs once after it, on what the batch left.

Nothing here changes what the sweep does: reference counting still frees what is not in a cycle at once; the cycles
a batch leaves (ORM states, rows and their sessions) wait for the batch's end, bounded by one batch. The collector's
state is restored in a `finally`, whatever the batch raised: a caller that had disabled it keeps it disabled.
Concurrent sweepers (threads) hold it off together: on again when the last of their batches ends.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Sweepers in threads of one process (`jobs.sweepers`) share its one collector: it stays off while any of them is
# inside a batch, and is given back as it was by the last one out — not by the first, which would switch it on under
# the other's batch, nor left off by the second, which found it off.
_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def held_off() -> Iterator[None]:
    """No automatic collection inside the block; the collector as it was after it (after the last such block of
    the process's threads)."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
