"""What a counterpart actually took on a stage, learnt from the history of events: the median and the spread of its
past durations, in calendar days. With fewer than `MIN_HISTORY` past pieces the legal figure stands in (its half, the
figure itself and one and a half times it, so the range says how little we know).

Pure: observations come in as plain values (`reading` builds them from the events the structure may see).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from chorus_chain.operations.tresorerie import stages as st

MIN_HISTORY = 3
LOW, HIGH = 0.2, 0.8  # the range is the 20th to the 80th percentile


@dataclass(frozen=True)
class Observation:
    """One stage of one past piece: who acted (a structure id), on which stage, how many days it took."""

    counterpart_id: int | None
    stage: str
    days: int


@dataclass(frozen=True)
class Habit:
    durations: tuple[int, ...]  # sorted
    legal: bool = False  # True: no history, the legal figure stands in

    @property
    def count(self) -> int:
        return 0 if self.legal else len(self.durations)

    @property
    def median(self) -> int:
        return quantile(self.durations, 0.5)

    @property
    def low(self) -> int:
        return quantile(self.durations, LOW)

    @property
    def high(self) -> int:
        return quantile(self.durations, HIGH)

    def beyond(self, elapsed: int) -> tuple[int, int, int]:
        """(median, low, high) of what is left, knowing `elapsed` days have gone by already: only the past
        durations longer than that count (a piece still waiting after 20 days is one of the slow ones). Past all
        of them, the counterpart is later than it ever was: one more day at least, and as much as its spread."""
        longer = [d - elapsed for d in self.durations if d > elapsed]
        if not longer:
            return 1, 1, max(1, self.high - self.low)
        return quantile(longer, 0.5), quantile(longer, LOW), quantile(longer, HIGH)


def quantile(values: Sequence[int], q: float) -> int:
    """Nearest-rank quantile of sorted values (0 for none)."""
    if not values:
        return 0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def legal_habit(days: int) -> Habit:
    return Habit((max(round(days * 0.5), 0), days, round(days * 1.5)), legal=True)


def learn(observations: Iterable[Observation]) -> dict[tuple[int | None, str], Habit]:
    """(counterpart, stage) → its habit, for the pairs with enough history."""
    found: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for obs in observations:
        if obs.days >= 0:
            found[(obs.counterpart_id, obs.stage)].append(obs.days)
    return {key: Habit(tuple(sorted(days))) for key, days in found.items() if len(days) >= MIN_HISTORY}


@dataclass(frozen=True)
class Event:
    """The facts of one event the stages are measured from."""

    action: str
    to_status: str
    on: date  # the day of the event (Paris), or the payment's own day for a payment
    seq: int = 0


def observe(events: Sequence[Event], counterparts: dict[str, int | None], *,
            before: date | None = None) -> list[Observation]:
    """The stages one piece went through, from its events in order: each entered on its first `ENTRY` status,
    ended by the first `EXIT` action after it. `counterparts`: route step → structure id. `before`: only what had
    happened by that day (the back-test replays the past as it was then)."""
    found = []
    for stage in st.ORDER:
        step = st.STEP_OF_STAGE[stage]
        if step not in counterparts:
            continue
        entered = next((e for e in events if e.to_status in st.ENTRY[stage]), None)
        if entered is None:
            continue
        left = next((e for e in events if e.seq > entered.seq and e.action in st.EXIT[stage]), None)
        if left is None or (before is not None and left.on > before):
            continue
        found.append(Observation(counterparts[step], stage, (left.on - entered.on).days))
    return found
