"""Python's cyclic garbage collector held off for one batch of the sweep (issue 20).

Why: a batch of 500 deadlines allocates a few hundred thousand objects (ORM rows and their states, events' values,
the bulk rows' JSON), all alive until the batch's end. Each time its allocations pass the collector's threshold, the
collector walks the young objects — all of them still alive, so for nothing — and now and then every object of the
process, the application's own (SQLAlchemy's mappers, the templates, the transition table): CPU spent finding no
garbage. Held off for the batch, the collector runs once after it, on what the batch left.

Nothing here changes what the sweep does: reference counting still frees what is not in a cycle at once; the cycles
a batch leaves (ORM states, rows and their sessions) wait for the batch's end, bounded by one batch. The collector's
state is restored in a `finally`, whatever the batch raised: a caller that had disabled it keeps it disabled.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def held_off() -> Iterator[None]:
    """No automatic collection inside the block; the collector as it was after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
