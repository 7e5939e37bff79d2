"""États d'acompte built by the MOE, worked examples through the database (CHORUS.md §4, §6, §6b).

The world: tests/integration/etats_world.py (groupement conjoint, 1 000 000 € HT, TVA 20 %, retenue 5 %, no advance,
firm prices unless a test says otherwise). NOW = 2 March 2026."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models import Deadline, MarcheEvent, Piece
from chorus_chain.models.money import Decompte, DecompteLine, EtatAcompte, IndexValue
from chorus_chain.operations import OperationError
from chorus_chain.operations import etats_acompte as ops
from tests.integration.etats_world import NOW, as_moe, decompte, index_value, price_line, setup_marche, taken_pdm
from tests.integration.pieces_world import count, piece, rows, system, world


def _this(result: dict, key: int, column: str) -> str:
    beneficiary = next(b for b in result["beneficiaries"] if b["key"] == key)
    return beneficiary["columns"][column]["this"]


def _open(app, w, month: str) -> int:
    return as_moe(app, w, lambda access, account, structure: ops.open_etat(access, account, structure, month,
                                                                            now=NOW).id)


def _etat(app, etat_id: int) -> EtatAcompte:
    with system(app):
        etat = db.session.get(EtatAcompte, etat_id)
        db.session.expunge(etat)
        return etat


def _issue(app, w, etat_id: int) -> str:
    return as_moe(app, w, lambda access, account, structure: ops.issue(access, etat_id, account, structure,
                                                                        now=NOW).status)


def _compute(app, w, etat_id: int) -> ops.Computation:
    return as_moe(app, w, lambda access, a, s: ops.compute(access.marche, ops.get_etat(access.marche, etat_id)))


def _corrected_month(app, w):
    """The mandataire claims 50 m² × 200 € = 10 000 €; st1 claims 5 000 € (5 of its 96 units at 1 000 €), each
    décompte entered before its deposit."""
    m_line = price_line(app, w, "M1", w.mandataire.party_id, quantity="100", unit_price="200")
    s_line = price_line(app, w, "S1", w.st1.party_id, quantity="96", unit_price="1000")
    m_piece = taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={m_line: "50"})
    s_piece = taken_pdm(app, w, w.st1, "ST-1", month="2026-02", measures={s_line: "5"})
    return m_piece, s_piece


def test_the_moe_corrects_a_line_both_figures_are_kept_and_the_contest_window_opens(app, db):
    w = world(app)
    m_piece, s_piece = _corrected_month(app, w)
    etat_id = _open(app, w, "2026-02")

    def correct(access, account, structure):
        etat = ops.get_etat(access.marche, etat_id)
        line = next(p for p in ops.pdms_of(etat) if p.party.id == w.mandataire.party_id).decompte.lines[0]
        with pytest.raises(OperationError, match="Expliquez la correction"):
            ops.admit_line(access, etat, line.id, quantity="40")
        ops.admit_line(access, etat, line.id, quantity="40", comment="Métré contradictoire : 40 m²")

    as_moe(app, w, correct)
    # Hand arithmetic (the mandataire's part = itself + st1 + sibling, st1 reverse-charged):
    #   mandataire: works admitted 40 × 200 = 8 000.00; VAT 20 % × 8 000 = 1 600 + the VAT it self-assesses on st1's
    #     works 20 % × 5 000 = 1 000 → 2 600.00; TTC 10 600.00.
    #   retenue of the part = 5 % × (8 000 + 5 000) × 1.2 = 780.00; st1's share 5 % × 5 000 HT = 250.00; the
    #     mandataire's = 780 − 250 = 530.00 → amount due 10 600 − 530 = 10 070.00.
    #   st1: works 5 000.00, no VAT, TTC 5 000.00, retenue 250.00 → due 4 750.00.
    result = _compute(app, w, etat_id).result.to_dict()
    key_m, key_s = w.mandataire.party_id, w.st1.party_id
    assert [_this(result, key_m, c) for c in ("works_ht", "vat", "ttc", "retenue", "amount_due")] == \
        ["8000.00", "2600.00", "10600.00", "530.00", "10070.00"]
    assert [_this(result, key_s, c) for c in ("works_ht", "vat", "ttc", "retenue", "amount_due")] == \
        ["5000.00", "0.00", "5000.00", "250.00", "4750.00"]
    assert result["corrections"] == [{"key": key_m, "field": "travaux", "claimed": "10000.00",
                                      "admitted": "8000.00", "difference": "-2000.00"}]
    assert result["marche"]["amount_due"]["this"] == "14820.00"  # 10 070 + 4 750

    assert _issue(app, w, etat_id) == "issued"
    issued = _etat(app, etat_id)
    assert issued.contest_until == date(2026, 4, 1)  # 2 March + 30 days
    assert issued.result == result and issued.issued_by_id == w.moe.account_id
    # Each PDM moves on to the MOA with the amount due to its beneficiary; only the corrected one may be contested.
    m, s = piece(app, m_piece), piece(app, s_piece)
    assert (m.status, m.accepted_amount) == ("A_ASSOCIER_MOA", Decimal("10070.00"))
    assert (s.status, s.accepted_amount) == ("A_ASSOCIER_MOA", Decimal("4750.00"))
    assert count(app, Deadline, Deadline.piece_id == m_piece, Deadline.kind == "contest_moe_corrections") == 1
    assert count(app, Deadline, Deadline.piece_id == s_piece, Deadline.kind == "contest_moe_corrections") == 0
    # Both figures stay: what was claimed and what the MOE admitted, with its comment.
    line = rows(app, DecompteLine, DecompteLine.amount_ht == Decimal("10000.00"))[0]
    assert (line.admitted_quantity, line.admitted_amount_ht, line.moe_comment) == \
        (Decimal("40.000"), Decimal("8000.00"), "Métré contradictoire : 40 m²")
    assert {d.etat_acompte_id for d in rows(app, Decompte, Decompte.marche_id == w.marche_id)} == {etat_id}
    # Issued: nothing changes any more.
    with pytest.raises(OperationError, match="est émis : il ne change plus"):
        as_moe(app, w, lambda access, a, s: ops.admit_line(access, ops.get_etat(access.marche, etat_id), line.id,
                                                           as_claimed=True))
    with pytest.raises(OperationError, match="a déjà été émis"):
        _issue(app, w, etat_id)
    assert count(app, MarcheEvent, MarcheEvent.kind == "etat_acompte_issued") == 1


def test_penalties_by_days_and_fixed_then_the_next_etat_deducts_only_the_difference(app, db):
    w = world(app)
    setup_marche(app, w, penalty_daily_amount=Decimal("150.00"))
    line = price_line(app, w, "M1", w.mandataire.party_id, amount="100000.00")
    first = taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={line: "20"})
    etat_id = _open(app, w, "2026-02")

    def penalise(access, account, structure):
        etat = ops.get_etat(access.marche, etat_id)
        ops.add_penalty(access, etat, account, party_id=w.mandataire.party_id, label="Retard lot 1", days="10")
        ops.add_penalty(access, etat, account, party_id=w.mandataire.party_id, label="Absence en réunion",
                        amount="250")
        with pytest.raises(OperationError, match="soit un nombre de jours de retard, soit un montant"):
            ops.add_penalty(access, etat, account, party_id=w.mandataire.party_id, label="x", days="1", amount="1")

    as_moe(app, w, penalise)
    # Mandataire: works 20 000.00; VAT 4 000.00; TTC 24 000.00; retenue 5 % × 24 000 = 1 200.00;
    # penalties 10 days × 150 € = 1 500.00 + 250.00 fixed = 1 750.00 (≥ 1 000 € HT: no exemption);
    # amount due = 24 000 − 1 200 − 1 750 = 21 050.00.
    _issue(app, w, etat_id)
    result = _etat(app, etat_id).result
    key = w.mandataire.party_id
    assert [_this(result, key, c) for c in ("ttc", "retenue", "penalties", "amount_due")] == \
        ["24000.00", "1200.00", "1750.00", "21050.00"]
    assert piece(app, first).accepted_amount == Decimal("21050.00")

    # État n° 2, March: cumulative 30 000 (+10 000); the penalties stay at 1 750 to date, 0 this month.
    # This acompte: works 10 000.00, VAT 2 000.00, TTC 12 000.00, retenue 600.00 → due 11 400.00.
    second = taken_pdm(app, w, w.mandataire, "PDM-2", month="2026-03", measures={line: "30"})
    etat2 = _open(app, w, "2026-03")
    _issue(app, w, etat2)
    result2 = _etat(app, etat2).result
    assert result2["number"] == 2
    assert [_this(result2, key, c) for c in ("works_ht", "ttc", "retenue", "penalties", "amount_due")] == \
        ["10000.00", "12000.00", "600.00", "0.00", "11400.00"]
    mandataire = next(b for b in result2["beneficiaries"] if b["key"] == key)
    assert mandataire["columns"]["penalties"]["to_date"] == "1750.00"
    assert mandataire["columns"]["amount_due"]["previous"] == "21050.00"
    assert _etat(app, etat2).contest_until is None  # nothing corrected


def test_missing_index_is_a_french_error_then_a_provisional_value_lets_it_through(app, db):
    w = world(app)
    setup_marche(app, w, price_form="revisable", revision_a=Decimal("0.1250"), revision_index="BT01",
                 revision_base_month="2026-01")
    index_value(app, w, "2026-01", "130.0")
    line = price_line(app, w, "M1", w.mandataire.party_id, amount="100000.00")
    pdm = taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={line: "20"})
    etat_id = _open(app, w, "2026-02")
    with pytest.raises(OperationError) as refused:
        _issue(app, w, etat_id)
    assert "Indice BT01 manquant pour le mois de février 2026" in refused.value.message
    assert refused.value.field == "index"
    assert _etat(app, etat_id).status == "draft" and piece(app, pdm).status == "PRISE_EN_COMPTE_MOE"

    as_moe(app, w, lambda access, account, structure: ops.set_index_value(
        access, account, structure, "2026-02", "131,3", False, now=NOW))
    # C = 0.125 + 0.875 × 131.3 / 130.0 = 0.125 + 0.875 × 1.01 = 1.00875 → rounded up to the thousandth 1.009;
    # revision = 20 000 × (1.009 − 1) = 180.00. VAT 20 % × (20 000 + 180) = 4 036.00; TTC 24 216.00;
    # retenue 5 % × 20 000 × 1.2 = 1 200.00 (without revision) → due 23 016.00.
    _issue(app, w, etat_id)
    result = _etat(app, etat_id).result
    key = w.mandataire.party_id
    assert [_this(result, key, c) for c in ("revision", "vat", "ttc", "retenue", "amount_due")] == \
        ["180.00", "4036.00", "24216.00", "1200.00", "23016.00"]
    assert result["state"]["revision_lines"][0]["definitive"] is False
    logged = rows(app, MarcheEvent, MarcheEvent.kind == "index_value_set")
    assert logged[0].detail["month"] == "2026-02" and logged[0].detail["definitive"] is False

    def back_to_provisional(access, account, structure):
        ops.set_index_value(access, account, structure, "2026-02", "131.5", True, now=NOW)
        ops.set_index_value(access, account, structure, "2026-02", "131.5", False, now=NOW)

    with pytest.raises(OperationError, match="est définitive : elle ne redevient pas provisoire"):
        as_moe(app, w, back_to_provisional)


def test_a_dc4_ceiling_overrun_is_blocked_and_explained(app, db):
    w = world(app)
    # The deposit itself refuses a claim beyond the DC4 (test_business_inputs): the état's check is the second net,
    # reached here by a PDM sent before the bordereau had its line, its décompte rows written afterwards.
    pdm = taken_pdm(app, w, w.st1, "ST-1")
    line = price_line(app, w, "S1", w.st1.party_id, amount="96000.00")
    decompte(app, w, pdm, w.st1, "2026-02", [(line, None, "100", "96000.00")], approvisionnements="4000.00")
    etat_id = _open(app, w, "2026-02")
    # st1 is reverse-charged: its cumulative is HT, 96 000 + 4 000 = 100 000 > its DC4 ceiling of 96 000.
    with pytest.raises(OperationError) as refused:
        _issue(app, w, etat_id)
    assert "dépasse le plafond de son acte spécial (DC4) de 96\u202f000,00\u00a0€ : dépassement de " \
           "4\u202f000,00\u00a0€" in refused.value.message
    assert _etat(app, etat_id).status == "draft" and piece(app, pdm).status == "PRISE_EN_COMPTE_MOE"
    # The MOE admits no approvisionnements: within the ceiling, it issues.
    as_moe(app, w, lambda access, a, s: ops.admit_extras(access, ops.get_etat(access.marche, etat_id),
                                                         rows(app, Decompte)[0].id, {"approvisionnements": "0"}))
    _issue(app, w, etat_id)
    assert _this(_etat(app, etat_id).result, w.st1.party_id, "amount_due") == "91200.00"  # 96 000 − 5 % retenue


def test_only_the_moe_changes_and_each_company_sees_its_own_part(app, db):
    w = world(app)
    _corrected_month(app, w)
    with pytest.raises(OperationError, match="Seul le maître d'œuvre"):
        as_moe(app, w, lambda access, account, structure: ops.open_etat(access, account, structure, "2026-02",
                                                                         now=NOW), who=w.mandataire)
    etat_id = _open(app, w, "2026-02")
    with pytest.raises(OperationError, match="en préparation"):
        _open(app, w, "2026-03")
    _issue(app, w, etat_id)

    def seen_by(who):
        def read(access, account, structure):
            etat = ops.get_etat(access.marche, etat_id)
            result, error, pdms = ops.result_of(access.marche, etat)
            return ops.visible_result(result, access), [p.party.id for p in ops.visible_pdms(pdms, access)]
        return as_moe(app, w, read, who=who)

    whole, whole_pdms = seen_by(w.moa)
    assert len(whole["beneficiaries"]) == 5 and whole["marche"] is not None
    assert sorted(whole_pdms) == sorted([w.mandataire.party_id, w.st1.party_id])
    assert len(seen_by(w.mandataire)[0]["beneficiaries"]) == 5
    own, own_pdms = seen_by(w.st1)
    assert [b["key"] for b in own["beneficiaries"]] == [w.st1.party_id]
    assert [p["payee_key"] for p in own["payables"]] == [w.st1.party_id]
    assert own["marche"] is None and "state" not in own and own["corrections"] == []
    assert own_pdms == [w.st1.party_id]
    co, co_pdms = seen_by(w.cotraitant)
    assert [b["key"] for b in co["beneficiaries"]] == [w.cotraitant.party_id] and co_pdms == []


def test_the_export_fills_the_decompte_of_each_pdm_with_its_beneficiarys_figures(app, db):
    import jsonschema

    from chorus_chain.models import Marche
    from chorus_chain.operations.export import marche_export
    from tests.integration.test_marches_visibility import schema

    w = world(app)
    _corrected_month(app, w)
    other = taken_pdm(app, w, w.sibling, "SB-1")  # taken, but no décompte rows: not in the état
    etat_id = _open(app, w, "2026-02")
    _issue(app, w, etat_id)
    with system(app):
        document = marche_export(db.session.get(Marche, w.marche_id), NOW, None)
    jsonschema.validate(document, schema())
    pieces = {p["number"]: p for p in document["pieces"]}
    m = pieces["PDM-1"]["decompte"]
    assert (m["kind"], m["number"], m["month"]) == ("etat_acompte", 1, "2026-02")
    # Nothing corrected this time: works 10 000 + VAT (2 000 + 1 000 on st1's 5 000) = 13 000 TTC; retenue of the
    # part 5 % × 15 000 × 1.2 = 900, st1's 250, the mandataire's 650 → 12 350.00.
    assert m["beneficiary"]["key"] == w.mandataire.party_id and m["payable"]["this"] == "12350.00"
    assert m["beneficiary"]["columns"]["retenue"]["lines"][0]["formula"].startswith("taux × travaux TTC")
    assert m["corrections"] == [] and "state" not in m
    assert pieces["ST-1"]["decompte"]["payable"]["this"] == "4750.00"
    assert [b["key"] for b in (m["beneficiary"], pieces["ST-1"]["decompte"]["beneficiary"])] == \
        [w.mandataire.party_id, w.st1.party_id]
    assert pieces["SB-1"]["decompte"] is None and other


def test_the_index_value_needs_a_revisable_marche_and_a_sane_value(app, db):
    w = world(app)

    def enter(month, value):
        return lambda access, account, structure: ops.set_index_value(access, account, structure, month, value,
                                                                       True, now=NOW)

    with pytest.raises(OperationError, match="à prix fermes"):
        as_moe(app, w, enter("2026-02", "130"))
    setup_marche(app, w, revision_a=Decimal("0.15"), revision_index="BT01", revision_base_month="2026-01")
    with pytest.raises(OperationError, match="format AAAA-MM"):
        as_moe(app, w, enter("02/2026", "130"))
    with pytest.raises(OperationError, match="valeur illisible"):
        as_moe(app, w, enter("2026-02", "cent trente"))
    as_moe(app, w, enter("2026-02", "130.1234"))
    with system(app):
        assert db.session.scalar(select(IndexValue.value)) == Decimal("130.1234")


def _pdm_pieces(app, w, etat_id: int) -> list[int]:
    """The pieces of the projets de décompte the draft état shows its MOE."""
    return as_moe(app, w, lambda access, a, s: [pdm.piece.id for pdm in ops.pdms_of(ops.get_etat(access.marche,
                                                                                                 etat_id))])


def _february_issued(app, w):
    """The mandataire's (M1) and st1's (S1) price lines, and February's état issued with the mandataire's projet."""
    m_line = price_line(app, w, "M1", w.mandataire.party_id, amount="100000.00")
    s_line = price_line(app, w, "S1", w.st1.party_id, quantity="96", unit_price="1000")
    taken_pdm(app, w, w.mandataire, "PDM-1", month="2026-02", measures={m_line: "20"})
    _issue(app, w, _open(app, w, "2026-02"))
    return m_line, s_line


def test_a_late_projet_de_decompte_goes_into_the_next_etat(app, db):
    """st1's February projet reaches the MOE after the February état was issued: the March état takes it (the
    délai global de paiement runs from its receipt, whatever its month; no later état may go back to February), with
    its figures — cumulative since the start, so its works to date. Before, it waited for no état at all."""
    w = world(app)
    m_line, s_line = _february_issued(app, w)
    late = taken_pdm(app, w, w.st1, "ST-LATE", month="2026-02", measures={s_line: "5"})
    taken_pdm(app, w, w.mandataire, "PDM-2", month="2026-03", measures={m_line: "30"})
    second = _open(app, w, "2026-03")
    assert late in _pdm_pieces(app, w, second)
    _issue(app, w, second)
    result = _etat(app, second).result
    # st1, reverse-charged: works 5 000.00 HT, no VAT, retenue 5 % × 5 000 = 250.00 → due 4 750.00.
    assert [_this(result, w.st1.party_id, c) for c in ("works_ht", "retenue", "amount_due")] == \
        ["5000.00", "250.00", "4750.00"]
    assert piece(app, late).accepted_amount == Decimal("4750.00")
    assert piece(app, late).status != "PRISE_EN_COMPTE_MOE"
    with system(app):
        assert db.session.scalar(select(Decompte.etat_acompte_id).where(Decompte.piece_id == late)) == second


def test_a_late_projet_beside_the_companys_later_one_counts_once(app, db):
    """st1's February projet, late, and its March projet (cumulative: it includes February) in the same état: the
    March figures are counted, once; the February piece goes into the état with it, without an amount of its own."""
    w = world(app)
    m_line, s_line = _february_issued(app, w)
    late = taken_pdm(app, w, w.st1, "ST-FEB", month="2026-02", measures={s_line: "5"})
    current = taken_pdm(app, w, w.st1, "ST-MAR", month="2026-03", measures={s_line: "8"})
    second = _open(app, w, "2026-03")
    assert {late, current} <= set(_pdm_pieces(app, w, second))
    _issue(app, w, second)
    result = _etat(app, second).result
    # 8 units × 1 000 € = 8 000.00 HT, retenue 400.00 → due 7 600.00 (not 5 000 + 8 000).
    assert [_this(result, w.st1.party_id, c) for c in ("works_ht", "amount_due")] == ["8000.00", "7600.00"]
    assert piece(app, current).accepted_amount == Decimal("7600.00")
    assert piece(app, late).accepted_amount != Decimal("7600.00")
    with system(app):
        linked = dict(db.session.execute(select(Decompte.piece_id, Decompte.etat_acompte_id)
                                         .where(Decompte.piece_id.in_((late, current)))).all())
    assert linked == {late: second, current: second}
