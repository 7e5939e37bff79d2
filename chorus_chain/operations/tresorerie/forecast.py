"""The expected payment date of one amount in flight: the stages still ahead of it, each taking what THIS counterpart
took on its past pieces (`habits`), the legal figure where it has no history; a range, and the reasons in French.

The stage the money waits on now has already lasted some days: only what is left of it counts, read from the past
durations that were longer (`Habit.beyond`). The range adds up each stage's 20th and 80th percentiles: wide on
purpose, since one slow step delays everything after it.

`naive` is what a company's own software would say: the legal deadlines still ahead, counted from today. The
back-test (`bench/tresorerie_backtest.py`, `tests/unit/test_tresorerie_backtest.py`) measures both. Pure.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from chorus_chain.operations.tresorerie import stages as st
from chorus_chain.operations.tresorerie.habits import Habit, legal_habit


@dataclass(frozen=True)
class StageAhead:
    stage: str
    counterpart_id: int | None
    counterpart_name: str | None
    legal_days: int


@dataclass(frozen=True)
class Position:
    """Where an amount stands: the stages still ahead (the first is the one it waits on now) and since when."""

    ahead: tuple[StageAhead, ...]
    entered: date  # the day the money entered the first stage ahead


@dataclass(frozen=True)
class Part:
    """One stage of the forecast, as the page explains it."""

    stage: str
    counterpart_name: str | None
    days: int  # what the forecast gives this stage (what is left of it, for the current one)
    median: int  # the counterpart's usual duration (or the legal figure)
    count: int  # past pieces it is learnt from (0: the legal figure)
    current: bool
    elapsed: int

    @property
    def text(self) -> str:
        who = st.WHO[self.stage]
        if self.counterpart_name:
            who = f"{who} ({self.counterpart_name})"
        if self.count:
            usual = (f"{who} met habituellement {_days(self.median)} pour {st.WHAT[self.stage]} "
                     f"(médiane de {self.count} pièces)")
        else:
            usual = f"{who} : {_days(self.median)} pour {st.WHAT[self.stage]}, le délai réglementaire (pas encore d'historique)"
        if self.current:
            usual += f" ; la pièce l'attend depuis {_days(self.elapsed)}"
        return usual


@dataclass(frozen=True)
class Expectation:
    expected: date
    low: date
    high: date
    parts: tuple[Part, ...]
    said: str | None = None  # an explanation of its own (a date the law fixes, not learnt: the retenue's release)
    naive: date | None = None  # « every legal deadline still ahead, from today »: what the back-test compares with

    @property
    def explanation(self) -> str:
        if self.said:
            return self.said
        text = " ; ".join(part.text for part in self.parts)
        return text[0].upper() + text[1:] + "." if text else ""


def _days(n: int) -> str:
    return "1 jour" if n == 1 else f"{n} jours"


def habit_for(habits: Mapping[tuple[int | None, str], Habit], stage: StageAhead) -> Habit:
    return habits.get((stage.counterpart_id, stage.stage)) or legal_habit(stage.legal_days)


def expect(position: Position, habits: Mapping[tuple[int | None, str], Habit], today: date) -> Expectation:
    """The expected payment date of an amount at `position`, seen on `today`."""
    elapsed = max((today - position.entered).days, 0)
    mid = low = high = 0
    parts = []
    for index, stage in enumerate(position.ahead):
        habit = habit_for(habits, stage)
        if index == 0:
            m, lo, hi = habit.beyond(elapsed)
        else:
            m, lo, hi = habit.median, habit.low, habit.high
        mid, low, high = mid + m, low + lo, high + hi
        parts.append(Part(stage.stage, stage.counterpart_name, m, habit.median, habit.count, index == 0,
                          elapsed if index == 0 else 0))
    mid, low, high = max(mid, 1), max(low, 1), max(high, mid, 1)
    low = min(low, mid)
    return Expectation(today + timedelta(days=mid), today + timedelta(days=low), today + timedelta(days=high),
                       tuple(parts), naive=naive(position, today))


def naive(position: Position, today: date) -> date:
    """« Legal deadline from today »: every legal deadline still ahead, in full, counted from today."""
    return today + timedelta(days=max(sum(stage.legal_days for stage in position.ahead), 1))


def position_of(route: Sequence[tuple[str, int | None, str | None]], status: str, entered: date, terms: st.Terms,
                *, works: bool) -> Position | None:
    """The position of a piece in flight from its route ((step, structure id, name) in order), its status and the
    day it entered that status's stage; None when its status is no stage of money in flight."""
    stage = st.STAGE_OF_STATUS.get(status)
    if stage is None:
        return None
    by_step = {step: (structure_id, name) for step, structure_id, name in route}
    ahead = []
    for name in st.stages_ahead(tuple(by_step), stage):
        structure_id, label = by_step.get(st.STEP_OF_STAGE[name], (None, None))
        ahead.append(StageAhead(name, structure_id, label, st.legal_days(name, terms, works=works)))
    return Position(tuple(ahead), entered)


_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")


def _day_text(day: date, *, with_month: bool = True, year: int | None = None) -> str:
    text = "1er" if day.day == 1 else str(day.day)
    if with_month:
        text += f" {_MONTHS[day.month - 1]}"
        if year is not None and day.year != year:
            text += f" {day.year}"
    return text


def say(expectation: Expectation, today: date | None = None) -> str:
    """« attendu vers le 14 janvier, entre le 10 et le 21 » (the months named where they differ; the year where it
    is not this year's)."""
    year = today.year if today else expectation.expected.year
    expected = _day_text(expectation.expected, year=year)
    if expectation.low == expectation.high:
        return f"attendu vers le {expected}"
    month = (expectation.expected.year, expectation.expected.month)
    same_month = (expectation.low.year, expectation.low.month) == (expectation.high.year, expectation.high.month) \
        == month
    low = _day_text(expectation.low, with_month=not same_month, year=year)
    high = _day_text(expectation.high, with_month=not same_month, year=year)
    return f"attendu vers le {expected}, entre le {low} et le {high}"
