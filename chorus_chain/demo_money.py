"""The demo marché's money: its price schedule, the BT01 index, and three months of projets de décompte turned into
états d'acompte by the MOE — one corrected by the MOE, one paid late — all driven through the operations a person
would use (the bordereau, the décompte form, the deposit, the validations, the MOE's état, the MOA, the payment).
The demo's works pieces still on their way (demo.DEMO_PIECES with a `month`: month 3's and a fourth month's) are
entered the same way, from their décompte (`operations.decompte_entry`), each at its place among the months.

The months are placed relative to the seeding instant, like the demo pieces: the PDMs of month n are deposited
`deposit` days ago, for a works month that has ended (so that the deadlines and the interest look as they would
today, whatever the day: the first month paid 20 days late, the second's contest window open, the third at the MOA's,
and no clock already run out). Idempotent: nothing happens when the bordereau already has lines.

The schedule gives each beneficiary's part exactly (1 200 000,00 € HT in all): Durand (mandataire, own part)
744 000,00; Martin (co-traitant, own part) 306 000,00; Leroy (plâtrerie, paiement direct, autoliquidation)
96 000,00; Bernard (menuiserie, paiement direct of Martin, autoliquidation) 54 000,00.
"""
from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Account, Marche, MarcheParty, Piece, Structure
from chorus_chain.models.money import PriceLine

BT01_CSV = Path(__file__).resolve().parent / "data" / "bt01_index.csv"

# (company key, lot, reference, designation, unit, quantity, unit price HT) — quantity None: a lump sum of `price`.
SCHEDULE = [
    ("mandataire", "01 Gros œuvre", "GO-01", "Démolitions et curage", "forfait", None, "84000"),
    ("mandataire", "01 Gros œuvre", "GO-02", "Béton armé de fondations", "m3", "320", "450"),
    ("mandataire", "01 Gros œuvre", "GO-03", "Maçonnerie de blocs béton", "m2", "1800", "120"),
    ("mandataire", "02 Charpente", "CH-01", "Charpente bois et couverture zinc", "forfait", None, "300000"),
    ("st_platrerie", "03 Plâtrerie", "PL-01", "Cloisons en plaques de plâtre", "m2", "2400", "30"),
    ("st_platrerie", "03 Plâtrerie", "PL-02", "Faux plafonds démontables", "m2", "1000", "24"),
    ("cotraitant", "04 Électricité", "EL-01", "Électricité courants forts et faibles", "forfait", None, "180000"),
    ("cotraitant", "05 CVC", "CV-01", "Chauffage et ventilation", "forfait", None, "126000"),
    ("st_menuiserie", "06 Menuiserie", "MI-01", "Blocs-portes intérieurs bois", "u", "90", "600"),
]


@dataclass(frozen=True)
class Month:
    """One month of works: the PDMs are deposited `deposit` days ago; `cumul` = cumulative measure per price line
    reference (a quantity, or a % for a lump sum) per company; `corrections` = (reference, admitted measure, comment)
    the MOE applies; then how far the état went: waiting for the MOA (`paid` None), or paid line by line `paid` days
    ago — or, for the line of a company in `paid_lines`, that many days ago."""

    deposit: int
    cumul: Mapping[str, Mapping[str, str]]
    corrections: tuple[tuple[str, str, str], ...] = ()
    paid: int | None = None
    paid_lines: Mapping[str, int] = field(default_factory=dict)


MONTHS = [
    # (Months 3 and 4 also hold the works pieces of demo.DEMO_PIECES: Leroy's and Bernard's month 3 still on their
    # way, Martin's first month 3 refused — ME-PDM-03 below is the one it deposited next —, month 4 not yet in an état.)
    # Paid line by line: Martin's line 26 days ago, on time (its PDM reached the MOE 54 days ago, after Durand's
    # validation: due 24 days ago); Durand's 5 days ago, 20 days after its due date (received 55 days ago + 30 days
    # of DGP), with its late-payment interest and the 40 €.
    Month(55, {"mandataire": {"GO-01": "100", "GO-02": "200", "GO-03": "300"},
               "cotraitant": {"EL-01": "5"}},
          paid=5, paid_lines={"cotraitant": 26}),
    # Deposited 25 days ago, issued 20 days ago with a correction: the 30 days to contest it end in 10 days.
    Month(25, {"mandataire": {"GO-02": "320", "GO-03": "900", "CH-01": "10"},
               "st_platrerie": {"PL-01": "400"},
               "cotraitant": {"EL-01": "15", "CV-01": "10"}},
          corrections=(("GO-03", "850", "Métré contradictoire : 850 m² de maçonnerie réalisés, et non 900 m²."),),
          paid=8),  # on time: due in 5 days
    Month(9, {"mandataire": {"GO-03": "1500", "CH-01": "35"},
               "cotraitant": {"EL-01": "30", "CV-01": "20"}}),  # at the MOA's
]
# Who validates a sous-traitant's or co-traitant's PDM first (then the mandataire for a sous-traitant of Martin).
VALIDATORS = {"st_platrerie": ["mandataire"], "cotraitant": ["mandataire"],
              "st_menuiserie": ["cotraitant", "mandataire"]}
CADRES = {"mandataire": "A4", "cotraitant": "A13", "st_platrerie": "A10", "st_menuiserie": "A10"}
NUMBER_PREFIX = {"mandataire": "DB-PDM", "cotraitant": "ME-PDM", "st_platrerie": "PL-PDM", "st_menuiserie": "MB-PDM"}


def pdm_numbers() -> list[str]:
    """The numbers of the projets de décompte the three months deposit (DB-PDM-01, PL-PDM-02…)."""
    return [f"{NUMBER_PREFIX[key]}-{number:02d}" for number, month in enumerate(MONTHS, start=1) for key in month.cumul]


def seed_money(structures: dict[str, Structure], marche: Marche, now: datetime) -> bool:
    """Seed the schedule, the index, the three months and the works pieces on their way; False when the bordereau
    already exists."""
    if db.session.scalar(select(PriceLine.id).where(PriceLine.marche_id == marche.id).limit(1)) is not None:
        return False
    # Every instant of the months at 08:00 UTC (10:00 or 09:00 in Paris): a day counted in UTC is then the same day in
    # Paris, so the days late (counted in Paris) do not depend on the hour the demo was seeded. The works pieces keep
    # the seeding's minute, like the demo's other pieces (their countdowns run from it).
    seeded = now
    now = now.replace(hour=8, minute=0, second=0, microsecond=0) - (timedelta(days=1) if now.hour < 8 else
                                                                     timedelta(0))
    start = now - timedelta(days=MONTHS[0].deposit + 20)
    _seed_schedule(structures, marche, start)
    months = works_months([now - timedelta(days=days) for days in first_deposits()])
    _seed_index(structures, marche, [], start)
    for number, month in enumerate(months, start=1):
        # The works pieces of the month first: Martin's refused décompte before the one it deposited next.
        for scenario in works_pieces(number):
            _seed_works_piece(structures, marche, scenario, month, seeded)
        if number <= len(MONTHS):
            _seed_month(structures, marche, number, month, MONTHS[number - 1], now)
    db.session.flush()
    return True


def works_pieces(number: int) -> list:
    """The demo's works pieces (demo.DEMO_PIECES) of works month `number`, in the order they were deposited."""
    from chorus_chain.demo import DEMO_PIECES

    return sorted((s for s in DEMO_PIECES if s.month == number), key=lambda s: -s.deposited_days_ago)


def first_deposits() -> list[float]:
    """For each works month (1, 2, …), how many days before the seeding its first projet de décompte is deposited
    (the month's own PDMs and the demo's works pieces): each month must have ended by then (`works_months`)."""
    from chorus_chain.demo import DEMO_PIECES

    last = max([len(MONTHS)] + [s.month for s in DEMO_PIECES if s.is_works])
    return [max(([MONTHS[n - 1].deposit] if n <= len(MONTHS) else [])
                + [s.deposited_days_ago for s in works_pieces(n)]) for n in range(1, last + 1)]


def works_months(deposits: list[datetime]) -> list[str]:
    """The works month each PDM covers, given the instants they are deposited (in order): the month before its
    deposit's, or the month before the next one's when two deposits fall in the same month — consecutive months,
    each ended before its décompte is deposited."""
    months: list[str] = []
    following = None
    for deposit in reversed(deposits):
        first = deposit.date().replace(day=1) - timedelta(days=1)
        month = (first.year, first.month)
        if following is not None and month >= following:
            month = (following[0] - (following[1] == 1), 12 if following[1] == 1 else following[1] - 1)
        months.append(f"{month[0]:04d}-{month[1]:02d}")
        following = month
    return months[::-1]


def published_bt01() -> dict[str, str]:
    """The BT01 values the index table of chorus_chain/data publishes, by month "YYYY-MM"."""
    with BT01_CSV.open(encoding="utf-8") as handle:
        return {row["month"]: row["bt01"] for row in csv.DictReader(handle)}


def _actor(structures: dict[str, Structure], key: str) -> tuple[Account, Structure]:
    structure = structures[key]
    return db.session.get(Account, structure.gestionnaire_id), structure


def _seed_schedule(structures, marche: Marche, at: datetime) -> None:
    from chorus_chain.access import tenant
    from chorus_chain.operations import price_schedule

    account, moe = _actor(structures, "moe")
    parties = {row.structure_id: row.id for row in db.session.scalars(
        select(MarcheParty).where(MarcheParty.marche_id == marche.id, MarcheParty.role.in_(
            ("cotraitant", "sous_traitant"))))}
    with tenant(moe.id):
        for key, lot, reference, designation, unit, quantity, price in SCHEDULE:
            raw = {"lot": lot, "reference": reference, "designation": designation, "unit": unit,
                   "party_id": "" if key == "mandataire" else parties[structures[key].id]}
            if quantity is None:
                raw.update(lump_sum="1", amount_ht=price)
            else:
                raw.update(quantity=quantity, unit_price_ht=price)
            price_schedule.add_line(account, moe, marche.id, raw, now=at)


def _seed_index(structures, marche: Marche, months: list[str], at: datetime, *, base: bool = True) -> None:
    """BT01: the base month's published (definitive) value, and for the works months the last published value
    entered as provisional — the MOE trues them up when INSEE publishes (a real marché's MOE does the same). A
    month's value is entered once the month has come (no index of a month to come: issue 13), when the MOE takes
    up its état."""
    from chorus_chain.access import tenant
    from chorus_chain.operations import etats_acompte, marches

    published = published_bt01()
    last = published[max(published)]
    account, moe = _actor(structures, "moe")
    with tenant(moe.id):
        access = marches.access_for(moe, marche.id)
        if base:
            etats_acompte.set_index_value(access, account, moe, marche.revision_base_month,
                                          published[marche.revision_base_month], True, now=at)
        for month in months:
            value, definitive = (published[month], True) if month in published else (last, False)
            etats_acompte.set_index_value(access, account, moe, month, value, definitive, now=at)


def _seed_month(structures, marche: Marche, number: int, month: str, spec: Month, now: datetime) -> None:
    from chorus_chain.access import tenant
    from chorus_chain.operations import etats_acompte, marches

    deposited = now - timedelta(days=spec.deposit)
    pieces = {key: _deposit_pdm(structures, marche, key, number, month, cumul, deposited)
              for key, cumul in spec.cumul.items()}
    for key, piece_id in pieces.items():
        for day, validator in enumerate(VALIDATORS.get(key, []), start=1):
            _act(structures, validator, piece_id, "validate", deposited + timedelta(days=day))
    taken = deposited + timedelta(days=3)
    for piece_id in pieces.values():
        _act(structures, "moe", piece_id, "take", taken)
    _seed_index(structures, marche, [month], taken, base=False)
    account, moe = _actor(structures, "moe")
    with tenant(moe.id):
        access = marches.access_for(moe, marche.id)
        etat = etats_acompte.open_etat(access, account, moe, month, now=taken)
        for reference, measure, comment in spec.corrections:
            line_id = _line_of(marche, etat, reference)
            etats_acompte.admit_line(access, etat, line_id, quantity=measure, comment=comment)
        etats_acompte.issue(access, etat.id, account, moe, now=taken + timedelta(days=2))
    # The état travels as a document (issue 12): the MOA validates it as one (its A19 goes to the paying office),
    # which pays each company's line; the last month's état waits on the MOA's validation (its Synthèse shows it).
    if spec.paid is None:
        return
    from chorus_chain.operations.etat_pieces import lines as line_ops
    from chorus_chain.operations.etat_pieces import moa as moa_ops
    from chorus_chain.operations.etat_pieces import paying

    validated = taken + timedelta(days=4)
    account, moa = _actor(structures, "moa")
    days_ago = {structures[key].id: days for key, days in spec.paid_lines.items()}
    with tenant(moa.id):
        access = marches.access_for(moa, marche.id)
        moa_ops.validate(access, etat.id, account, moa, now=validated)
        lines = [line for line in line_ops.lines_of(etat.id) if line.payable]
        payees = {row.id: row.structure_id for row in db.session.scalars(
            select(MarcheParty).where(MarcheParty.id.in_([line.payee_party_id for line in lines])))}
        # In the order they are paid, each line on its own day.
        for line in sorted(lines, key=lambda row: -days_ago.get(payees[row.payee_party_id], spec.paid)):
            paid = now - timedelta(days=days_ago.get(payees[line.payee_party_id], spec.paid))
            paying.record_service_fait(access, etat.id, line.id, account, moa, (paid - timedelta(days=4)).date(),
                                       now=paid)
            paying.record_mandat(access, etat.id, line.id, account, moa, (paid - timedelta(days=2)).date(),
                                 now=paid)
            paying.record_payment(access, etat.id, line.id, account, moa, amount=line.amount,
                                  paid_on=paid.date(), now=paid)


def _line_of(marche: Marche, etat, reference: str) -> int:
    from chorus_chain.models.money import Decompte, DecompteLine

    return db.session.scalar(
        select(DecompteLine.id).join(Decompte, Decompte.id == DecompteLine.decompte_id)
        .join(PriceLine, PriceLine.id == DecompteLine.price_line_id)
        .where(Decompte.marche_id == marche.id, Decompte.month == etat.month, PriceLine.reference == reference))


def _deposit_pdm(structures, marche: Marche, key: str, number: int, month: str, cumul: Mapping[str, str],
                 at: datetime) -> int:
    from chorus_chain.access import tenant
    from chorus_chain.demo import DEMO_PDF, _bank_account_of
    from chorus_chain.operations import decomptes
    from chorus_chain.operations import pieces as piece_ops

    account, structure = _actor(structures, key)
    role = {"mandataire": "mandataire", "cotraitant": "cotraitant"}.get(key, "sous_traitant")
    party = db.session.scalar(select(MarcheParty).where(
        MarcheParty.marche_id == marche.id, MarcheParty.structure_id == structure.id, MarcheParty.role == role))
    piece_number = f"{NUMBER_PREFIX[key]}-{number:02d}"  # as pdm_numbers()
    with tenant(structure.id):
        form = piece_ops.draft_defaults(structure, marche.id, party.id, CADRES[key])
        bank = _bank_account_of(structure, party)
        form.update(number=piece_number, issue_date=at.date().isoformat(), montant_ht="0.00", montant_tva="0.00",
                    montant_ttc="0.00", bank_account_id=bank.id if bank else None)
        piece = piece_ops.create_draft(
            account, structure, marche.id, form,
            main_file=piece_ops.UploadedFile(f"{piece_number}.pdf", DEMO_PDF + piece_number.encode()), now=at)
        lines = {line.reference: line.id for line in db.session.scalars(
            select(PriceLine).where(PriceLine.marche_id == marche.id))}
        raw = {"month": month, **{f"m_{lines[reference]}": measure for reference, measure in cumul.items()}}
        decomptes.save_decompte(account, structure, piece.id, raw, now=at)
        piece_ops.deposit(piece.id, account, structure, now=at)
        return piece.id


def _seed_works_piece(structures, marche: Marche, scenario, month: str, now: datetime) -> int:
    """One works piece of demo.DEMO_PIECES as its emitter enters it: started from its décompte for its month, the
    cumul typed line by line, sent, then its steps played. Returns its id."""
    from chorus_chain.access import tenant
    from chorus_chain.demo import DEMO_PDF, _bank_account_of, _demo_step
    from chorus_chain.operations import decomptes
    from chorus_chain.operations import pieces as piece_ops
    from chorus_chain.operations.decompte_entry import start as entry

    account, structure = _actor(structures, scenario.key)
    party = db.session.scalar(select(MarcheParty).where(
        MarcheParty.marche_id == marche.id, MarcheParty.structure_id == structure.id,
        MarcheParty.role == scenario.role))
    at = now - timedelta(days=scenario.deposited_days_ago)
    with tenant(structure.id):
        _bank_account_of(structure, party)  # before the draft, which takes the default account
        piece = entry.start_decompte(
            account, structure, marche.id,
            {"party_id": party.id, "cadre": scenario.cadre, "month": month, "number": scenario.number,
             "issue_date": at.date().isoformat()},
            main_file=piece_ops.UploadedFile(f"{scenario.number}.pdf", DEMO_PDF + scenario.number.encode()), now=at)
        lines = {line.reference: line.id for line in decomptes.party_lines(marche.id, party)}
        raw = {"month": month, **{f"m_{lines[reference]}": measure for reference, measure in scenario.cumul}}
        decomptes.save_decompte(account, structure, piece.id, raw, now=at)
        piece_ops.deposit(piece.id, account, structure, now=at)
        piece_id = piece.id
    for step in scenario.steps:
        _demo_step(structures, piece_id, now, step)
    return piece_id


def _act(structures, key: str, piece_id: int, action: str, at: datetime, **inputs) -> None:
    from chorus_chain.access import tenant
    from chorus_chain.operations import pieces as piece_ops

    account, structure = _actor(structures, key)
    with tenant(structure.id):
        piece = db.session.get(Piece, piece_id)
        if inputs.get("amount") is _payable:  # what the état made payable on this piece
            inputs["amount"] = piece.accepted_amount if piece.accepted_amount is not None else piece.montant_ttc
        piece_ops.act(piece_id, account, structure, action, expected_status=piece.status, now=at, **inputs)


_payable = object()  # marker: pay the piece what its état d'acompte made payable

