"""Property tests of the money engine on random marchés (issue 5, "What must hold").

A generated marché: a titulaire alone or a groupement (conjoint/solidaire) with 1–2 co-traitants, 0–3 sous-traitants
in paiement direct under random contractors (reverse-charged or not), random parts, VAT, retenue (some parts
guaranteed), advance (rate, schedule, duration, some beneficiaries declining it), revision or firm prices (random
rounding and amount conventions, random index values, some provisional and later definitive). Then 1–6 états with
random cumulative décomptes that may go backwards, approvisionnements, primes, débours, réfactions and penalties; and
the DGD.

Properties:
- the sum of the états equals the cumulative, for every column, beneficiary and the marché, at every month;
- nothing is paid twice: re-running a month with identical inputs gives a zero acompte;
- rounding never drifts more than a cent per line (and half a cent per line to date);
- the beneficiaries' shares add up to the marché's totals and the payees' amounts to the amount due;
- advance repayments never exceed the advance and reach it exactly at the end; the DGD reconciles to the cent;
- floats are refused everywhere.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from chorus_chain.domain.money import (
    COLUMNS,
    LINEAR_65_TO_80,
    LINEAR_65_TO_100,
    AvanceSettings,
    Beneficiary,
    CoefficientRounding,
    Dc4CeilingBase,
    DecompteMensuel,
    FixedRepayment,
    Guarantee,
    IndexStatus,
    IndexTable,
    IndexValue,
    MarcheTerms,
    PartDecompte,
    Penalty,
    PenaltySettings,
    RepaymentBasis,
    RepaymentSchedule,
    RetenueSettings,
    RevisionAmount,
    RevisionTerms,
    avance_amount,
    avance_of,
    cent,
    compute_dgd,
    compute_etat_acompte,
    late_payment_interest,
)
from chorus_chain.domain.money.interest import RateChange, RateTable

D = Decimal
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HALF_CENT = D("0.005")
CENT = D("0.01")
MONTHS = [f"{2024 + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}" for m in range(1, 25)]  # 2024-01 … 2025-12


def euros(cents: int) -> Decimal:
    return D(cents) / 100


@st.composite
def index_tables(draw) -> tuple[IndexTable, IndexTable]:
    """(early, late): `early` has some provisional months; `late` makes them definitive, possibly with new values.
    The base month 2024-01 is definitive in both."""
    early, late = [], []
    for month in MONTHS:
        value = D(draw(st.integers(1150, 1450))) / 10
        if month != "2024-01" and draw(st.booleans()):
            early.append(IndexValue(month, value, IndexStatus.PROVISIONAL))
            final = D(draw(st.integers(1150, 1450))) / 10 if draw(st.booleans()) else value
            late.append(IndexValue(month, final, IndexStatus.DEFINITIVE))
        else:
            early.append(IndexValue(month, value))
            late.append(IndexValue(month, value))
    return IndexTable("BT01", tuple(early)), IndexTable("BT01", tuple(late))


@st.composite
def marches(draw):
    tva = draw(st.sampled_from([D("0.20"), D("0.10"), D("0.055")]))
    groupement = draw(st.sampled_from(["none", "conjoint", "solidaire"]))
    holder_role = "titulaire" if groupement == "none" else "mandataire"
    part = st.integers(100_000, 50_000_000).map(euros)  # 1 000,00 to 500 000,00

    def initial(current: Decimal) -> Decimal | None:
        """Issue 16: an avenant may have changed the part since the marché was signed (None: no avenant)."""
        if not draw(st.booleans()):
            return None
        return max(D("0.00"), current - euros(draw(st.integers(-5_000_000, 5_000_000))))

    holder_part = draw(part)
    beneficiaries = [Beneficiary("H", "Titulaire", holder_role, holder_part, takes_avance=draw(st.booleans()),
                                 initial_part_ht=initial(holder_part))]
    if groupement != "none":
        for i in range(draw(st.integers(1, 2))):
            co_part = draw(part)
            beneficiaries.append(Beneficiary(f"C{i}", f"Co-traitant {i}", "cotraitant", co_part,
                                             initial_part_ht=initial(co_part)))
    contractors = [b.key for b in beneficiaries]
    for i in range(draw(st.integers(0, 3))):
        st_part = draw(part)
        beneficiaries.append(
            Beneficiary(
                f"S{i}",
                f"Sous-traitant {i}",
                "sous_traitant",
                st_part,
                contractor_key=draw(st.sampled_from(contractors)),
                paiement_direct=True,
                autoliquidation=draw(st.booleans()),
                dc4_ceiling_ttc=st_part * 3,
                takes_avance=draw(st.booleans()),
                # issue 16: the acte spécial's ceiling with or without the revision (None: the marché's default)
                dc4_ceiling_base=draw(st.sampled_from([None, *Dc4CeilingBase])),
                initial_part_ht=initial(st_part),
            )
        )
    keys = [b.key for b in beneficiaries]
    # guarantees replacing the retenue of a beneficiary, for an amount or the whole, from a month of the scenario
    guarantees = tuple(
        Guarantee(
            draw(st.sampled_from(keys)),
            draw(st.sampled_from(["gapd", "caution"])),
            date(2024, draw(st.integers(1, 12)), draw(st.integers(1, 28))),
            draw(st.one_of(st.none(), st.integers(1, 3_000_000).map(euros))),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    # the pace of the advance repayment: the §6b defaults, or any start ≤ 65 % and end above it; own part or whole
    # marché; and, for some beneficiaries, fixed amounts per état
    schedule = draw(st.sampled_from([LINEAR_65_TO_80, LINEAR_65_TO_100, None]))
    if schedule is None:
        start = draw(st.integers(0, 65))
        end = draw(st.integers(start + 1, 100))
        schedule = RepaymentSchedule.linear(end=D(end) / 100, start=D(start) / 100)
    fixed = tuple(
        FixedRepayment(key, MONTHS[number], euros(draw(st.integers(1, 5_000_000))))
        for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=2))
        for number in draw(st.lists(st.integers(0, 8), unique=True, min_size=1, max_size=4))
    )
    revision = None
    if draw(st.booleans()):
        revision = RevisionTerms(
            a=draw(st.sampled_from([D("0.125"), D("0.15"), D("0.20")])),
            index="BT01",
            base_month="2024-01",
            rounding=draw(st.sampled_from(list(CoefficientRounding))),
            amount=draw(st.sampled_from(list(RevisionAmount))),
        )
    terms = MarcheTerms(
        montant_ht=sum((b.part_ht for b in beneficiaries), D("0.00")),
        tva_rate=tva,
        duration_months=draw(st.sampled_from([3, 12, 18, 30])),
        groupement=groupement,
        retenue=RetenueSettings(
            rate=draw(st.sampled_from([D("0"), D("0.03"), D("0.05")])),
            replaced=frozenset(draw(st.lists(st.sampled_from(keys), unique=True, max_size=2))),
            guarantees=guarantees,
        ),
        avance=AvanceSettings(
            rate=draw(st.sampled_from([D("0"), D("0.05"), D("0.10"), D("0.30")])),
            guarantee=True,
            schedule=schedule,
            basis=draw(st.sampled_from(list(RepaymentBasis))),
            fixed=fixed,
        ),
        revision=revision,
        # issue 16: the exemption threshold (a total equal to it is exempt), or none (CCAP)
        penalties=PenaltySettings(exemption_threshold_ht=draw(st.sampled_from([D("1000"), None, D("500")]))),
        dc4_ceiling_base=draw(st.sampled_from(list(Dc4CeilingBase))),
    )
    return terms, tuple(beneficiaries)


@st.composite
def scenarios(draw):
    terms, beneficiaries = draw(marches())
    early, late = draw(index_tables())
    count = draw(st.integers(1, 6))
    decomptes, penalties = [], []
    for n in range(1, count + 1):
        parts = []
        for b in beneficiaries:
            cap = int(b.part_ht * 100)
            travaux = draw(st.integers(0, cap * 12 // 10))
            appro = draw(st.integers(0, cap // 10))
            refactions = draw(st.integers(0, (travaux + appro) // 10))
            parts.append(
                PartDecompte(
                    b.key,
                    travaux=euros(travaux),
                    approvisionnements=euros(appro),
                    refactions=euros(refactions),
                    primes=euros(draw(st.integers(0, cap // 20))),
                    debours=euros(draw(st.integers(0, cap // 20))),
                )
            )
        if draw(st.booleans()):
            key = draw(st.sampled_from([b.key for b in beneficiaries]))
            if draw(st.booleans()):
                penalties.append(Penalty(key, f"Retard {n}", days=draw(st.integers(0, 15))))
            else:
                penalties.append(Penalty(key, f"Pénalité {n}", amount=euros(draw(st.integers(0, 300_000)))))
        decomptes.append(DecompteMensuel(n, MONTHS[n], tuple(parts), penalties=tuple(penalties)))
    # the early table for the first half of the états, the definitive one afterwards (true-ups happen in between)
    switch = draw(st.integers(1, count + 1))
    tables = [early if n < switch else late for n in range(1, count + 1)]
    return terms, beneficiaries, decomptes, tables, late


def run(terms, beneficiaries, decomptes, tables):
    etats, previous = [], None
    for decompte, table in zip(decomptes, tables, strict=True):
        previous = compute_etat_acompte(terms, beneficiaries, decompte, previous, table)
        etats.append(previous)
    return etats


def every_columns(etat):
    yield None, etat.marche
    for b in etat.beneficiaries:
        yield b.key, b.columns


@PROPERTY
@given(scenarios())
def test_sum_of_the_etats_equals_the_cumulative_at_every_month(scenario):
    terms, beneficiaries, decomptes, tables, _ = scenario
    etats = run(terms, beneficiaries, decomptes, tables)
    for i, etat in enumerate(etats):
        for key, columns in every_columns(etat):
            for name in COLUMNS:
                paid = sum(
                    (
                        getattr(e.marche if key is None else e.beneficiary(key).columns, name).this
                        for e in etats[: i + 1]
                    ),
                    D("0"),
                )
                assert paid == getattr(columns, name).to_date, (i, key, name)
        for payable in etat.payables:
            total = sum((e.payable(payable.payee_key).this for e in etats[: i + 1]), D("0"))
            assert total == payable.to_date


@PROPERTY
@given(scenarios())
def test_nothing_is_paid_twice(scenario):
    terms, beneficiaries, decomptes, tables, _ = scenario
    etats = run(terms, beneficiaries, decomptes, tables)
    for etat, decompte, table in zip(etats, decomptes, tables, strict=True):
        again = compute_etat_acompte(terms, beneficiaries, replace(decompte, number=decompte.number + 100), etat, table)
        for key, columns in every_columns(again):
            for column in columns.all():
                assert column.this == 0, (key, column.name)
        assert all(p.this == 0 for p in again.payables)
        assert again.cumuls().figures == etat.cumuls().figures


@PROPERTY
@given(scenarios())
def test_rounding_never_drifts_more_than_a_cent_per_line(scenario):
    terms, beneficiaries, decomptes, tables, _ = scenario
    etats = run(terms, beneficiaries, decomptes, tables)
    t = terms.tva_rate
    by_key = {b.key: b for b in beneficiaries}
    previous_exact: dict = {}
    for etat in etats:
        for _key, columns in every_columns(etat):
            for column in columns.all():
                for value in (column.to_date, column.previous, column.this):
                    assert value == cent(value)  # whole cents, always
        for b in etat.beneficiaries:
            c = b.columns
            # VAT: one line per origin (own works, each reverse-charged sous-traitant), each rounded once
            origins = [] if by_key[b.key].autoliquidation else [b.key]
            origins += [s.key for s in beneficiaries if s.contractor_key == b.key and s.autoliquidation]
            exact = sum(
                (
                    t
                    * (
                        etat.beneficiary(k).columns.works_ht.to_date
                        + etat.beneficiary(k).columns.revision.to_date
                        + etat.beneficiary(k).columns.primes.to_date
                    )
                    for k in origins
                ),
                D("0"),
            )
            assert abs(c.vat.to_date - exact) <= HALF_CENT * max(len(origins), 1)
            before = previous_exact.get(b.key, D("0"))
            assert abs(c.vat.this - (exact - before)) <= CENT * max(len(origins), 1)
            previous_exact[b.key] = exact
        # revision: each monthly line rounded once (MONTHLY), or the cumulative once (CUMULATIVE)
        if terms.revision is not None:
            for b in etat.beneficiaries:
                lines = [r for r in etat.revision_lines if r.key == b.key]
                exact = sum((r.delta_works * (r.coefficient - 1) for r in lines), D("0"))
                allowed = (
                    HALF_CENT * max(len(lines), 1) if terms.revision.amount is RevisionAmount.MONTHLY else HALF_CENT
                )
                assert abs(b.columns.revision.to_date - exact) <= allowed
        # retenue: one rounding per part (the sous-traitants' shares are subtracted exactly)
        if not terms.retenue.replaced and not terms.retenue.guarantees:
            contractors = [b for b in beneficiaries if not b.is_sous_traitant]
            exact = sum(
                (
                    terms.retenue.rate * etat.beneficiary(b.key).columns.works_ht.to_date * (1 + t)
                    for b in beneficiaries
                ),
                D("0"),
            )
            assert abs(etat.marche.retenue.to_date - exact) <= HALF_CENT * len(contractors)


@PROPERTY
@given(scenarios())
def test_shares_add_up_to_the_total(scenario):
    terms, beneficiaries, decomptes, tables, _ = scenario
    for etat in run(terms, beneficiaries, decomptes, tables):
        for name in COLUMNS:
            for attr in ("to_date", "previous", "this"):
                total = sum((getattr(getattr(b.columns, name), attr) for b in etat.beneficiaries), D("0"))
                assert total == getattr(getattr(etat.marche, name), attr), (name, attr)
        assert sum((p.this for p in etat.payables), D("0")) == etat.marche.amount_due.this
        assert sum((p.to_date for p in etat.payables), D("0")) == etat.marche.amount_due.to_date
        for b in etat.beneficiaries:
            c = b.columns
            assert c.ttc.to_date == c.works_ht.to_date + c.revision.to_date + c.primes.to_date + c.vat.to_date + (
                c.debours.to_date
            )
            assert c.total_deducted.to_date == c.retenue.to_date + c.avance_repayment.to_date + c.penalties.to_date
            assert c.amount_due.to_date == c.ttc.to_date - c.total_deducted.to_date
            if b.key in terms.retenue.replaced:
                assert c.retenue.to_date == 0
        # a reverse-charged sous-traitant is paid HT
        for b in beneficiaries:
            if b.autoliquidation:
                assert etat.beneficiary(b.key).columns.vat.to_date == 0
        # the advances add up to the marché's (rounding per beneficiary line)
        # (on the initial parts: an avenant never moves the advance, R2191-7, R2191-10)
        if all(b.takes_avance for b in beneficiaries):
            initial_ht = sum((b.avance_part_ht for b in beneficiaries), D("0.00"))
            whole = avance_amount(terms.avance.rate, initial_ht * (1 + terms.tva_rate), terms.duration_months)
            assert abs(etat.marche.avance_paid.to_date - whole.value) <= HALF_CENT * (len(beneficiaries) + 1)


@PROPERTY
@given(scenarios(), st.integers(0, 24))
def test_advance_never_exceeds_and_is_repaid_exactly_at_the_end(scenario, months_after):
    terms, beneficiaries, decomptes, tables, definitive = scenario
    etats = run(terms, beneficiaries, decomptes, tables)
    for etat in etats:
        for b in etat.beneficiaries:
            c = b.columns
            assert 0 <= c.avance_repayment.to_date <= c.avance_paid.to_date
    last = decomptes[-1]
    final = replace(last, number=last.number + 1, month=MONTHS[min(last.number + 1, len(MONTHS) - 1)])
    dgd = compute_dgd(
        terms, beneficiaries, final, etats[-1], definitive, reception=date(2025, 12, 1), guarantee_months=months_after
    )
    for b in dgd.etat.beneficiaries:
        assert b.columns.avance_repayment.to_date == b.columns.avance_paid.to_date
    for row in (*dgd.beneficiaries, dgd.marche):
        assert row.avance + row.acomptes + row.solde + row.retenue.amount == row.montant_dgd
    assert (
        sum((e.marche.amount_due.this for e in etats), D("0")) + dgd.marche.solde == dgd.etat.marche.amount_due.to_date
    )


@PROPERTY
@given(scenarios())
def test_a_guarantee_holds_the_retenue_only_on_what_it_does_not_cover(scenario):
    """With guarantees, each beneficiary's retenue is the one computed without them less what its guarantees in
    force for that month cover, never below 0 (all of it for a guarantee without an amount)."""
    terms, beneficiaries, decomptes, tables, _ = scenario
    bare = replace(terms, retenue=replace(terms.retenue, guarantees=()))
    for guaranteed, unguaranteed in zip(
        run(terms, beneficiaries, decomptes, tables), run(bare, beneficiaries, decomptes, tables), strict=True
    ):
        for b in beneficiaries:
            held = guaranteed.beneficiary(b.key).columns.retenue.to_date
            computed = unguaranteed.beneficiary(b.key).columns.retenue.to_date
            in_force = terms.retenue.guarantees_of(b.key, guaranteed.month)
            if b.key in terms.retenue.replaced:
                expected = D("0.00")  # the marché-wide guarantee replaces it whole
            elif not in_force:
                # untouched (a contractor's share may be −0,01: the part's rounding less its sous-traitants')
                expected = computed
            elif any(g.amount is None for g in in_force):
                expected = D("0.00")
            else:
                expected = max(D("0.00"), computed - sum((g.amount for g in in_force), D("0")))
            assert held == expected, (b.key, guaranteed.number, held, computed, in_force)
            assert held <= max(computed, D("0.00"))


def exact_repayment_target(avance: Decimal, works: Decimal, amount: Decimal, schedule) -> Decimal:
    """§6b on exact rationals: advance × the schedule's interpolation of executed = works ÷ amount, rounded half-up to
    the cent once — the only rounding §6b and §6.4 allow. Not `cent(avance * schedule.fraction(works / amount))`: that
    cut works ÷ amount at 28 digits, and when the true target is exactly on a half-cent (71 428,05 × 712,34 ÷ 238 093,5
    ÷ 0,24 = 890,425) the cut product fell just below it and rounded down (890,42 where §6b gives 890,43)."""
    executed = Fraction(works) / Fraction(amount)
    points = [(Fraction(e), Fraction(r)) for e, r in schedule.points]
    if executed <= points[0][0]:
        share = points[0][1]
    elif executed >= points[-1][0]:
        share = points[-1][1]
    else:
        (e1, r1), (e2, r2) = next((a, b) for a, b in zip(points, points[1:]) if executed <= b[0])
        share = r1 + (r2 - r1) * (executed - e1) / (e2 - e1)
    return Decimal(math.floor(Fraction(avance) * share * 100 + Fraction(1, 2))) / 100  # avance, share ≥ 0: half-up


def half_cent_scenario(travaux: Decimal, approvisionnements: Decimal):
    """The scenario hypothesis found (shrunk): a groupement conjoint; S0, a reverse-charged sous-traitant on
    238 093,50 with a 30 % advance (71 428,05) repaid linearly from 0 % to 24 % of its part, executes `travaux` +
    `approvisionnements` in the first état. Its target is 71 428,05 × executed ÷ 0,24 = 1,25 × its works: exactly on a
    half-cent for 27,54 (34,425) or 712,34 (890,425), while executed = works ÷ 238 093,5 never ends."""
    table = IndexTable("BT01", tuple(IndexValue(month, D("115")) for month in MONTHS))
    beneficiaries = (
        Beneficiary("H", "Titulaire", "mandataire", euros(100_000), takes_avance=False),
        Beneficiary("C0", "Co-traitant 0", "cotraitant", euros(100_000)),
        Beneficiary("S0", "Sous-traitant 0", "sous_traitant", euros(23_809_350), contractor_key="H",
                    paiement_direct=True, autoliquidation=True, dc4_ceiling_ttc=euros(71_428_050)),
        *(
            Beneficiary(f"S{i}", f"Sous-traitant {i}", "sous_traitant", euros(100_000), contractor_key="H",
                        paiement_direct=True, dc4_ceiling_ttc=euros(300_000), takes_avance=False)
            for i in (1, 2)
        ),
    )
    terms = MarcheTerms(
        montant_ht=sum((b.part_ht for b in beneficiaries), D("0.00")),
        tva_rate=D("0.20"),
        duration_months=3,
        groupement="conjoint",
        retenue=RetenueSettings(rate=D("0"), guarantees=(Guarantee("H", "gapd", date(2024, 1, 1), None),)),
        avance=AvanceSettings(
            rate=D("0.30"), guarantee=True, schedule=RepaymentSchedule.linear(end=D(24) / 100, start=D(0) / 100)
        ),
        revision=None,
        penalties=PenaltySettings(exemption_threshold_ht=D("1000")),
        dc4_ceiling_base=Dc4CeilingBase.TTC_INCLUDING_REVISION,
    )
    zero = D("0")
    parts = tuple(
        PartDecompte(b.key, travaux=travaux, approvisionnements=approvisionnements, primes=zero, debours=zero,
                     refactions=zero)
        if b.key == "S0"
        else PartDecompte(b.key, travaux=zero, approvisionnements=zero, primes=zero, debours=zero, refactions=zero)
        for b in beneficiaries
    )
    return terms, beneficiaries, [DecompteMensuel(1, MONTHS[1], parts)], [table], table


@PROPERTY
@given(scenarios())
# The engine cut executed = works ÷ part at 40 digits and rounded 34,42 where the exact target is 34,425 → 34,43
@example(scenario=half_cent_scenario(D("12.19"), D("15.35")))
# The former oracle (28 digits) said 890,42 where the exact target is 890,425 → 890,43
@example(scenario=half_cent_scenario(D("0"), D("712.34")))
def test_the_repayment_follows_the_pace_the_marche_chose(scenario):
    """Fixed amounts: the cumulative scheduled amounts, capped by the advance; otherwise the schedule's share of
    the execution of the beneficiary's part or of the whole marché, computed exactly and rounded once to the cent
    (§6b: only the target is rounded, never executed or the share)."""
    terms, beneficiaries, decomptes, tables, _ = scenario
    by_key = {b.key: b for b in beneficiaries}
    for etat in run(terms, beneficiaries, decomptes, tables):
        marche_works = etat.marche.works_ht.to_date
        for b in etat.beneficiaries:
            c = b.columns
            fixed = terms.avance.fixed_of(b.key)
            if fixed:
                scheduled = sum((r.amount for r in fixed if r.month <= etat.month), D("0.00"))
                expected = min(c.avance_paid.to_date, scheduled)
            elif terms.avance.basis is RepaymentBasis.WHOLE_MARCHE:
                expected = exact_repayment_target(
                    c.avance_paid.to_date, marche_works, terms.montant_ht, terms.avance.schedule
                )
            else:
                part = by_key[b.key].part_ht
                if not part:
                    continue
                expected = exact_repayment_target(c.avance_paid.to_date, c.works_ht.to_date, part,
                                                  terms.avance.schedule)
            assert c.avance_repayment.to_date == expected, (b.key, etat.number)


FLOATS = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=50, deadline=None)
@given(FLOATS)
def test_floats_are_refused(value):
    with pytest.raises(TypeError):
        cent(value)
    with pytest.raises(TypeError):
        PartDecompte("H", travaux=value)
    with pytest.raises(TypeError):
        Penalty("H", "x", amount=value)
    with pytest.raises(TypeError):
        MarcheTerms(montant_ht=value, tva_rate=D("0.20"), duration_months=12)
    with pytest.raises(TypeError):
        MarcheTerms(montant_ht=D("1000.00"), tva_rate=value, duration_months=12)
    with pytest.raises(TypeError):
        Beneficiary("H", "T", "titulaire", value)
    with pytest.raises(TypeError):
        RetenueSettings(rate=value)
    with pytest.raises(TypeError):
        IndexValue("2024-01", value)
    with pytest.raises(TypeError):
        RateChange(date(2024, 1, 1), value)
    with pytest.raises(TypeError):
        late_payment_interest(
            RateTable(), receipt=date(2024, 1, 1), dgp_days=30, payment=date(2024, 3, 1), net_payable_ttc=value
        )


@PROPERTY
@given(scenarios())
def test_an_avenant_never_moves_the_advance(scenario):
    """Issue 16: the same marché with every part's avenant removed (parts back to their initial amounts) pays the
    same advance to each beneficiary (R2191-7, R2191-10)."""
    terms, beneficiaries, decomptes, tables, _ = scenario
    signed = tuple(replace(b, part_ht=b.avance_part_ht, initial_part_ht=None) for b in beneficiaries)
    initial_ht = sum((b.part_ht for b in signed), D("0.00"))
    assume(initial_ht > 0)
    signed_terms = replace(terms, montant_ht=initial_ht)
    for b, s in zip(beneficiaries, signed, strict=True):
        assert avance_of(terms, beneficiaries, b).value == avance_of(signed_terms, signed, s).value


@PROPERTY
@given(scenarios(), st.data())
def test_unpaid_interest_carried_into_the_dgd_adds_to_the_total_and_leaves_the_price_alone(scenario, data):
    """Interest still unpaid on acomptes, drawn at random per beneficiary (issue 16): the reconciliation of the price
    is the one without it, the payables are the solde, and each total to pay is the solde plus what was carried."""
    from chorus_chain.domain.money import CarriedInterest

    terms, beneficiaries, decomptes, tables, definitive = scenario
    etats = run(terms, beneficiaries, decomptes, tables)
    last = decomptes[-1]
    final = replace(last, number=last.number + 1, month=MONTHS[min(last.number + 1, len(MONTHS) - 1)])
    unpaid = {
        b.key: tuple(CarriedInterest(date(2025, 1, 1) + timedelta(days=n), str(n + 1), euros(cents), D("40.00"))
                     for n, cents in enumerate(data.draw(st.lists(st.integers(0, 10**7), max_size=3))))
        for b in beneficiaries if data.draw(st.booleans())
    }
    plain = compute_dgd(terms, beneficiaries, final, etats[-1], definitive, reception=date(2025, 12, 1))
    carried = compute_dgd(terms, beneficiaries, final, etats[-1], definitive, reception=date(2025, 12, 1),
                          unpaid_interest=unpaid)
    for before, after in zip((*plain.beneficiaries, plain.marche), (*carried.beneficiaries, carried.marche),
                             strict=True):
        assert (after.montant_dgd, after.solde, after.retenue.amount) == (before.montant_dgd, before.solde,
                                                                          before.retenue.amount)
        assert after.reconciles
        owed = sum((i.total for i in unpaid.get(after.key, ())), D("0")) if after.key is not None else \
            sum((i.total for items in unpaid.values() for i in items), D("0"))
        assert after.interets == owed and after.total_a_payer == after.solde + owed
    assert [p.this for p in carried.etat.payables] == [p.this for p in plain.etat.payables]
