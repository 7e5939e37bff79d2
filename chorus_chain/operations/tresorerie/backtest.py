"""The back-test of the forecast (issue 19): a seeded history of several marchés over eighteen months, with buyers,
maîtres d'œuvre and contractors of different habits; at each month's start the forecast is made from what had
happened by then, and compared with the day each amount was then paid — against the naive forecast « legal deadline
from today ».

The history is events, as the application records them (`habits.Event`: the status a piece entered, the action that
moved it, the day), and the replay goes through the very functions the page uses: `observe` and `learn` for the
habits, `position_of` for where each piece stands, `expect` and `naive` for the dates. Nothing here is tuned to the
forecast: the world draws each stage's duration from its actor's own habit (a mean and a spread), plus the noise of
real life (an état d'acompte carries every projet de décompte of its month, so one slow état delays them all; now
and then a payment is weeks late). Pure and deterministic for a seed: `bench/tresorerie_backtest.py` prints the
figures, `tests/unit/test_tresorerie_backtest.py` asserts that the forecast beats the naive one.
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from chorus_chain.operations.tresorerie import stages as st
from chorus_chain.operations.tresorerie.forecast import expect, naive, position_of
from chorus_chain.operations.tresorerie.habits import Event, learn, observe, quantile

START = date(2025, 1, 1)
MONTHS = 18


@dataclass(frozen=True)
class Actor:
    """A counterpart and its habit on its stage: a mean and a spread in days (normal, never below `floor`)."""

    id: int
    mean: float
    spread: float
    floor: int = 0
    late_now_and_then: float = 0.0  # the share of its pieces it keeps weeks longer (a lost invoice, a budget freeze)

    def draw(self, rng: random.Random) -> int:
        days = max(self.floor, round(rng.gauss(self.mean, self.spread)))
        if self.late_now_and_then and rng.random() < self.late_now_and_then:
            days += rng.randint(15, 40)
        return days


# Maîtres d'œuvre, maîtres d'ouvrage (who validate the état) and paying offices of different habits.
MOES = (Actor(101, 4, 1.5), Actor(102, 12, 3), Actor(103, 7, 2))
MOAS = (Actor(201, 3, 1), Actor(202, 10, 3), Actor(203, 5, 2))
PAYERS = (Actor(301, 17, 4, 3), Actor(302, 44, 7, 10, 0.08), Actor(303, 27, 5, 5, 0.04))
# Contractors validating their sous-traitants' projets de décompte: silence is an acceptance after 15 days.
VALIDATORS = (Actor(401, 3, 1), Actor(402, 11, 3), Actor(403, 14, 1))


@dataclass(frozen=True)
class MarcheSpec:
    id: int
    moe: Actor
    moa: Actor
    payer: Actor
    dgp_days: int
    validators: tuple[Actor, ...]


@dataclass
class HistoricPiece:
    id: int
    marche: MarcheSpec
    route: tuple[tuple[str, int | None, str | None], ...]
    amount: Decimal
    events: list[Event] = field(default_factory=list)

    @property
    def paid_on(self) -> date:
        return self.events[-1].on


def marches(rng: random.Random) -> list[MarcheSpec]:
    """Six marchés, each with its own public side and contractors (some share a paying office: habits are per
    counterpart, not per marché)."""
    found = []
    for k in range(6):
        found.append(MarcheSpec(k + 1, MOES[k % 3], MOAS[(k + 1) % 3], PAYERS[k % 3], 50 if k == 4 else 30,
                                (VALIDATORS[k % 3], VALIDATORS[(k + 2) % 3])))
    rng.shuffle(found)
    return found


def history(seed: int = 19) -> list[HistoricPiece]:
    """Eighteen months of projets de décompte: each month, on each marché, the titulaire's and two sous-traitants'
    (paiement direct: validated first by their contractor) reach the MOE between the 20th and the 28th; the MOE
    issues one état for the month, the MOA validates it, the paying office pays its lines within a few days of each
    other."""
    rng = random.Random(seed)
    found: list[HistoricPiece] = []
    for month in range(MONTHS):
        first = date(START.year + (START.month - 1 + month) // 12, (START.month - 1 + month) % 12 + 1, 1)
        for spec in marches(rng):
            pieces = []
            for who in range(3):
                deposited = first + timedelta(days=rng.randint(19, 27))
                route = ([] if who == 0 else [("validation_1", spec.validators[who - 1].id, None)]) + [
                    ("moe", spec.moe.id, None), ("moa", spec.moa.id, None), ("paiement", spec.payer.id, None)]
                piece = HistoricPiece(len(found) + len(pieces) + 1, spec, tuple(route),
                                      Decimal(rng.randint(3_000, 90_000)))
                day, seq = deposited, 1
                if who:
                    piece.events.append(Event("deposit", "A_VALIDER_1", day, seq))
                    validated = day + timedelta(days=min(spec.validators[who - 1].draw(rng), 15))
                    piece.events.append(Event("validate", "VALIDEE_1", validated, seq + 1))
                    day, seq = validated, seq + 2
                piece.events.append(Event("deposit" if not who else "forward", "A_ASSOCIER_MOE", day, seq))
                pieces.append(piece)
            # One état for the month: issued once the last projet is in, validated, then paid line by line.
            last_in = max(p.events[-1].on for p in pieces)
            issued = last_in + timedelta(days=spec.moe.draw(rng))
            validated = issued + timedelta(days=spec.moa.draw(rng))
            paid = validated + timedelta(days=spec.payer.draw(rng))
            for piece in pieces:
                seq = piece.events[-1].seq
                piece.events += [Event("issue_etat_acompte", "A_ASSOCIER_MOA", issued, seq + 1),
                                 Event("moa_validate", "MISE_A_DISPOSITION", validated, seq + 2),
                                 Event("mark_paid", "MISE_EN_PAIEMENT", paid + timedelta(days=rng.randint(0, 2)),
                                       seq + 3)]
            found += pieces
    return found


@dataclass(frozen=True)
class Forecasted:
    on: date  # the month's start the forecast was made on
    amount: Decimal
    actual: date
    forecast: date
    naive: date


def replay(pieces: list[HistoricPiece]) -> Iterator[Forecasted]:
    """At each month's start: learn the habits from what had ended the day before, and forecast every piece in
    flight (deposited, not yet paid) from the stage it was in."""
    for month in range(1, MONTHS + 1):
        today = date(START.year + (START.month - 1 + month) // 12, (START.month - 1 + month) % 12 + 1, 1)
        yesterday = today - timedelta(days=1)
        observations = []
        for piece in pieces:
            if piece.events[0].on < today:
                observations += observe(piece.events, {step: sid for step, sid, _ in piece.route},
                                        before=yesterday)
        habits = learn(observations)
        for piece in pieces:
            happened = [e for e in piece.events if e.on < today]
            if not happened or piece.paid_on < today:
                continue
            status = happened[-1].to_status
            stage = st.STAGE_OF_STATUS.get(status)
            entered = next(e.on for e in reversed(happened) if e.to_status in st.ENTRY.get(stage, ()))
            terms = st.Terms(dgp_days=piece.marche.dgp_days, moe_days=7)
            position = position_of(piece.route, status, entered, terms, works=True)
            yield Forecasted(today, piece.amount, piece.paid_on, expect(position, habits, today).expected,
                             naive(position, today))


@dataclass(frozen=True)
class Score:
    median_days: int
    p90_days: int
    right_week_share: Decimal  # the share of euros forecast in the week they were paid


def score(found: list[Forecasted], which: str) -> Score:
    errors = sorted(abs((getattr(f, which) - f.actual).days) for f in found)
    total = sum((f.amount for f in found), Decimal(0))
    right = sum((f.amount for f in found
                 if getattr(f, which).isocalendar()[:2] == f.actual.isocalendar()[:2]), Decimal(0))
    return Score(quantile(errors, 0.5), quantile(errors, 0.9),
                 (right / total).quantize(Decimal("0.001")) if total else Decimal(0))


def run(seed: int = 19) -> tuple[int, Score, Score]:
    """(forecasts made, the forecast's score, the naive forecast's score)."""
    found = list(replay(history(seed)))
    return len(found), score(found, "forecast"), score(found, "naive")
