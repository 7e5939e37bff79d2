"""The habits a structure's forecasts are drawn from, kept a short while (issue 20).

The habits (`habits.learn`) are a statistical forecast over the structure's thousand most recent pieces: the
median and spread of each counterpart's past durations. Recomputing them on every request read some 13 500 event rows
and cost about 25 ms of CPU to the sous-traitant's payment tracker, for a figure a new event barely moves. They are
kept per app (one database) for `HABITS_CACHE_SECONDS` (10 minutes; 0 turns it off — the tests' setting), keyed by
the structure and the day they were learnt for. Only the statistics are kept: never a piece's own dates or amounts
(the pages read those fresh), never anything the engine computed.

Once their time is up, one request learns them again while the structure's other requests keep the previous ones
until it is done (`get`): their expiry was every concurrent request of the structure reading the events at once
(257 ms and 27 633 buffers each for the sous-traitant at 100 000 pieces), the benchmark's worst p95 on its page.
A request that took the learning and failed hands it over after `LEARNING_SECONDS`.

Tenancy: an entry is read or written only while the request works for that very structure (`reading.history_for`
checks the tenant); the key carries the structure, so a structure never gets another's habits.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType

DEFAULT_SECONDS = 600.0
LEARNING_SECONDS = 60.0  # a request learning the habits again for longer than this is taken to have failed
_EXTENSION = "chorus_tresorerie_habits"


class HabitsCache:
    """A small TTL map (monotonic clock, injectable for tests), safe across a worker's threads."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 4096):
        self.seconds = seconds
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Mapping]] = {}
        self._learning: dict[Hashable, float] = {}  # key → when a request took the learning of expired habits
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Mapping | None:
        """The kept habits, or None: the caller learns them and `put`s them. Past their time, only the first caller
        gets None; the others get the previous habits while it learns (or until `LEARNING_SECONDS` have passed)."""
        now = self.clock()
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            until, habits = found
            if until > now:
                return habits
            started = self._learning.get(key)
            if started is not None and now - started < LEARNING_SECONDS:
                return habits  # another request is learning them again: the previous ones meanwhile
            self._learning[key] = now
            return None

    def put(self, key: Hashable, habits: Mapping) -> Mapping:
        now = self.clock()
        kept = MappingProxyType(dict(habits))  # read-only: every request of the TTL shares it
        with self._lock:
            if len(self._entries) >= self.max_entries:  # bounded: drop the expired, then the oldest
                for stale in [k for k, (until, _) in self._entries.items() if until <= now]:
                    del self._entries[stale]
                while len(self._entries) >= self.max_entries:
                    del self._entries[next(iter(self._entries))]
            self._entries[key] = (now + self.seconds, kept)
            self._learning.pop(key, None)
        return kept

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._learning.clear()


def of(app) -> HabitsCache | None:
    """The app's cache, or None when `HABITS_CACHE_SECONDS` is 0."""
    cache = app.extensions.get(_EXTENSION)
    if cache is None:
        seconds = float(app.config.get("HABITS_CACHE_SECONDS", DEFAULT_SECONDS))
        if seconds <= 0:
            return None
        cache = app.extensions.setdefault(_EXTENSION, HabitsCache(seconds))
    return cache


def install(app, cache: HabitsCache | None) -> None:
    """Give `app` this cache (tests: an injected clock), or none."""
    if cache is None:
        app.extensions.pop(_EXTENSION, None)
        app.config["HABITS_CACHE_SECONDS"] = 0
    else:
        app.extensions[_EXTENSION] = cache
