"""The back-test of the Trésorerie forecast through the database (issue 19), shared by
`tests/integration/test_tresorerie_backtest.py` (small) and `bench/tresorerie_backtest.py` (eighteen months).

A seeded history is replayed through the real operations, with the clock moved: several works marchés (the world of
`pieces_world`, one per marché, each with its own maître d'ouvrage and paying office, maître d'œuvre and
contractors), each with actors of different habits (`backtest.MOES`, `MOAS`, `PAYERS`, `VALIDATORS`: a mean and a
spread, a paying office now and then weeks late). Every month, on every marché, the mandataire, its sous-traitant
(validated by the mandataire) and the co-traitant's sous-traitant (validated by the co-traitant, then the
mandataire) deposit a projet de décompte between the 20th and the 27th; the maître d'œuvre takes them and issues the
month's état once the last one is in; the maître d'ouvrage takes and validates it; the paying office notes the
service fait, mandates and pays each piece within a few days of each other. Each is an operation
(`operations.pieces.deposit`, `act`) at its own instant, so the rows — statuses, events, access rows — are the ones
the product writes.

The steps of every piece are drawn first (pure, from the seed), then taken in the order of their instants. At each
month's start, before the steps of that day, the database holds exactly what had happened by then: the forecast is
asked of every company that is owed a piece, as its page asks it (`reading.forecast_for`, the structure's tenant,
`access.visible_to`), and each amount it expects is compared, once the history has run to its end, with the day it
was paid — and with the naive forecast « every legal deadline still ahead, from today » (`forecast.naive`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from chorus_chain.extensions import db
from chorus_chain.models import Marche, MarcheParty
from chorus_chain.operations.tresorerie import reading
from chorus_chain.operations.tresorerie.backtest import MOAS, MOES, PAYERS, VALIDATORS, Actor, Forecasted
from tests.integration.pieces_world import acting, act, deposit, piece, system, world

PARIS = ZoneInfo("Europe/Paris")
START = date(2025, 1, 1)  # eighteen months end before the session's today: every instant is in the past
EMITTERS = ("mandataire", "st1", "st_co")  # the companies owed a piece every month, on every marché


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=PARIS)


def month_start(month: int) -> date:
    index = START.month - 1 + month
    return date(START.year + index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Habits:
    """Who acts on one marché, and its habit."""

    moe: Actor
    moa: Actor
    payer: Actor
    mandataire: Actor  # validating its sous-traitants' projets
    cotraitant: Actor  # validating its own sous-traitant's

    @classmethod
    def of(cls, k: int) -> "Habits":
        return cls(MOES[k % 3], MOAS[(k + 1) % 3], PAYERS[k % 3], VALIDATORS[k % 3], VALIDATORS[(k + 2) % 3])


@dataclass(order=True)
class Step:
    when: datetime
    order: int  # ties: the order the steps were drawn in (a piece's own steps stay in sequence)
    marche: int = field(compare=False)
    key: str = field(compare=False)  # the piece: "<marché>-<month>-<emitter>"
    who: str = field(compare=False)  # the actor's key in the world
    action: str = field(compare=False)  # "deposit" or an action of the transition table
    inputs: dict = field(compare=False, default_factory=dict)


@dataclass
class Drawn:
    key: str
    marche: int
    emitter: str
    paid_on: date | None = None


def schedule(seed: int, months: int, marches: int) -> tuple[list[Step], dict[str, Drawn]]:
    """Every step of every piece, in the order of their instants; the pieces with the day each will be paid."""
    rng = random.Random(seed)
    steps: list[Step] = []
    pieces: dict[str, Drawn] = {}

    def add(when: datetime, marche: int, key: str, who: str, action: str, **inputs) -> None:
        steps.append(Step(when, len(steps), marche, key, who, action, inputs))

    for month in range(months):
        first = month_start(month)
        for m in range(marches):
            habits = Habits.of(m)
            at_moe: dict[str, date] = {}
            for emitter in EMITTERS:
                key = f"{m}-{month}-{emitter}"
                ht = Decimal(rng.randint(3_000, 60_000))
                pieces[key] = Drawn(key, m, emitter)
                day = first + timedelta(days=rng.randint(19, 26))
                add(_at(day, 9), m, key, emitter, "deposit", ht=f"{ht}.00", issue_date=day.isoformat())
                # A validator acts within its 15 days (its silence would be an acceptance: the sweep, not replayed).
                validators = {"mandataire": (), "st1": ("mandataire",), "st_co": ("cotraitant", "mandataire")}
                for who in validators[emitter]:
                    day += timedelta(days=min(getattr(habits, who).draw(rng), 14))
                    add(_at(day, 10), m, key, who, "validate")
                at_moe[key] = day
            # One état for the month: issued once the last projet is in, validated, then paid piece by piece.
            issued = max(at_moe.values()) + timedelta(days=habits.moe.draw(rng))
            validated = issued + timedelta(days=habits.moa.draw(rng))
            paid = validated + timedelta(days=habits.payer.draw(rng))
            for key in at_moe:
                add(_at(issued, 11), m, key, "moe", "take")
                add(_at(issued, 12), m, key, "moe", "issue_etat_acompte")
                add(_at(validated, 13), m, key, "moa", "moa_take")
                add(_at(validated, 14), m, key, "moa", "moa_validate")
                add(_at(validated, 15), m, key, "moa", "mark_service_fait")
                add(_at(validated, 16), m, key, "moa", "mark_mandatee")
                pieces[key].paid_on = paid + timedelta(days=rng.randint(0, 2))
                add(_at(pieces[key].paid_on, 17), m, key, "moa", "mark_paid", paid_on=pieces[key].paid_on.isoformat())
    return sorted(steps), pieces


@dataclass
class Replay:
    forecasts: list[Forecasted]
    pieces: int
    operations: int
    structures_asked: int


def replay(app, *, seed: int = 19, months: int = 18, marches: int = 3, forecast_from: int = 1) -> Replay:
    """Build the marchés, take every step in order, and ask the forecast at each month's start (from month
    `forecast_from`); returns every amount forecast with the day it was then paid."""
    worlds = [world(app) for _ in range(marches)]
    for w in worlds:
        # Eighteen months of acomptes: the marché and its parts are made large enough for them, and the DC4s
        # accepted before the history starts (pieces_world's are of 2026).
        with system(app):
            db.session.get(Marche, w.marche_id).montant_ht = Decimal("40000000.00")
            for party in db.session.query(MarcheParty).filter(MarcheParty.marche_id == w.marche_id,
                                                              MarcheParty.montant_ttc.is_not(None)):
                party.montant_ttc = Decimal("2000000.00" if party.role == "sous_traitant" else "20000000.00")
                if party.role == "sous_traitant":
                    party.accepted_on = START - timedelta(days=30)
    steps, drawn = schedule(seed, months, marches)
    ids: dict[str, int] = {}
    asked: list[tuple[date, int, Decimal, date, date]] = []  # (day, piece id, amount, expected, naive)
    structures = 0
    cursor = 0
    for month in range(forecast_from, months + 1):
        today = month_start(month)
        midnight = _at(today, 0)
        while cursor < len(steps) and steps[cursor].when < midnight:
            _take(app, worlds, steps[cursor], ids)
            cursor += 1
        if month == months:
            break  # the last month's start only closes the history
        for w in worlds:
            for emitter in EMITTERS:
                who = getattr(w, emitter)
                with acting(app, who) as (_, structure):
                    found = reading.forecast_for(structure, today)
                structures += 1
                for flow in found.flows:
                    if flow.incoming and flow.piece_id is not None:
                        asked.append((today, flow.piece_id, flow.amount, flow.expected, flow.expectation.naive))
    while cursor < len(steps):
        _take(app, worlds, steps[cursor], ids)
        cursor += 1
    by_id = {piece_id: drawn[key] for key, piece_id in ids.items()}
    forecasts = [Forecasted(today, amount, by_id[piece_id].paid_on, expected, naive)
                 for today, piece_id, amount, expected, naive in asked]
    return Replay(forecasts, len(ids), len(steps), structures)


def _take(app, worlds, step: Step, ids: dict[str, int]) -> None:
    w = worlds[step.marche]
    who = getattr(w, step.who)
    if step.action == "deposit":
        cadre = "A4" if step.who == "mandataire" else "A10"  # a sous-traitant's projet de décompte is an A10
        ids[step.key] = deposit(app, w, who, cadre, step.key, now=step.when, **step.inputs)
    elif step.action == "mark_paid":  # the whole amount asked (the MOE admitted it as it was)
        ttc = piece(app, ids[step.key]).montant_ttc
        act(app, who, ids[step.key], "mark_paid", now=step.when, amount=f"{ttc:.2f}".replace(".", ","),
            **step.inputs)
    else:
        act(app, who, ids[step.key], step.action, now=step.when, **step.inputs)
