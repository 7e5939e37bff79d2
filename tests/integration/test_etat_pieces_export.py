"""The marché export v2 (docs/contracts/marche-export.md, validated against the repository's JSON Schema): the états
as documents — the A15 / A19 and the projets de décompte of each état, its payable lines with their payments and
interest — and the DGD reconciliation, from the frozen results; a reader sees what its pages show."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from chorus_chain.extensions import db
from chorus_chain.models import Marche
from chorus_chain.operations.export import marche_export
from tests.integration.etat_pieces_world import (
    at,
    correct_st1,
    issue,
    month_of_may,
    open_etat,
    pay,
    return_etat,
    validate,
)
from tests.integration.pieces_world import NOW, acting, piece, system, world

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "contracts" / "marche-export.schema.json")
                    .read_text(encoding="utf-8"))


def _export(app, w, who=None) -> dict:
    if who is None:
        with system(app):
            document = marche_export(db.session.get(Marche, w.marche_id), NOW, None)
    else:
        with acting(app, who):
            document = marche_export(db.session.get(Marche, w.marche_id), NOW, who.structure_id)
    jsonschema.validate(document, SCHEMA)
    return document


def _lines_of(app, etat_id):
    from chorus_chain.models.etat_pieces import PayableLine
    from tests.integration.pieces_world import rows

    return {line.name: line for line in rows(app, PayableLine, PayableLine.etat_acompte_id == etat_id)}


def test_the_export_carries_the_etats_their_pieces_lines_payments_and_interest(app, db):
    w = world(app)
    pdm = month_of_may(app, w)
    first = open_etat(app, w, "2026-05", at("2026-05-22"))
    issue(app, w, first, at("2026-05-23"))
    again = return_etat(app, w, first, "Avancement de la plâtrerie surévalué.", at("2026-05-25"))
    correct_st1(app, w, again)
    issue(app, w, again, at("2026-05-27"))
    validate(app, w, again, at("2026-05-28"))
    lines = _lines_of(app, again)
    for name, (fait, mandat, paid_on) in {w.mandataire.name: ("2026-06-01", "2026-06-05", "2026-06-10"),
                                          w.st1.name: ("2026-06-01", "2026-06-05", "2026-06-15"),
                                          w.cotraitant.name: ("2026-06-02", "2026-06-08", "2026-06-18"),
                                          w.st_co.name: ("2026-06-02", "2026-06-30", "2026-07-06")}.items():
        pay(app, w, again, lines[name].id, service_fait=fait, mandat=mandat, amount=str(lines[name].amount),
            paid_on=paid_on)

    document = _export(app, w, w.moa)
    assert document["format"] == "chorus-chain/marche-export/v2"
    returned, issued = document["etats"]
    assert (returned["number"], returned["status"], returned["lines"]) == ("1", "returned", [])
    assert returned["return_reason"] == "Avancement de la plâtrerie surévalué."
    assert (issued["number"], issued["status"], issued["replaces"]) == ("1 bis", "issued", "1")
    # The engine's amount due (frozen at the issue): 34 428,00 € (arithmetic in tests/integration/test_etat_pieces.py).
    assert issued["amount_due"] == "34428.00"
    bis = piece(app, _etat_piece(app, again))
    assert issued["pieces"]["a15"] == bis.number and issued["pieces"]["a19"].startswith("EAV-")
    assert sorted(issued["pdms"]) == sorted(piece(app, p).number for p in pdm.values())
    by_payee = {line["name"]: line for line in issued["lines"]}
    assert {name: line["amount"] for name, line in by_payee.items()} == {
        w.mandataire.name: "12312.00", w.st1.name: "4560.00", w.cotraitant.name: "12426.00",
        w.st_co.name: "5130.00"}
    assert all(line["paid_amount"] == line["amount"] for line in issued["lines"])
    # st_co's line, due 20 June, paid 6 July: 16 days at 10,15 % on 5 130,00 → 22,82 € and the 40 € flat fee.
    [late] = by_payee[w.st_co.name]["payments"]
    assert (late["days_late"], late["rate_percent"], late["interest"], late["flat_fee"]) == (
        16, "10.150", "22.82", "40.00")
    assert by_payee[w.st_co.name]["payee_siret"] == w.st_co.siret
    # Each piece names the états it is linked to: st1's PDM was carried by « 1 » then « 1 bis ».
    pieces = {p["number"]: p for p in document["pieces"]}
    st1 = pieces[piece(app, pdm["st1"]).number]
    assert st1["etats"] == [{"etat": "1", "link": "pdm"}, {"etat": "1 bis", "link": "pdm"}]
    assert pieces[bis.number]["etats"] == [{"etat": "1 bis", "link": "a15"}]
    assert document["dgd"] is None  # no final état yet

    # The holder sees every line but not the A15 (the MOE's piece to the MOA): it is not named.
    holder = _export(app, w, w.mandataire)
    assert holder["etats"][1]["pieces"]["a15"] is None and len(holder["etats"][1]["lines"]) == 4
    assert bis.number not in {p["number"] for p in holder["pieces"]}
    # A sous-traitant reads its own line only, and not the état's total.
    mine = _export(app, w, w.st1)
    assert [line["name"] for line in mine["etats"][1]["lines"]] == [w.st1.name]
    assert mine["etats"][1]["amount_due"] is None and mine["dgd"] is None
    # The operator's command line reads everything.
    assert _export(app, w)["etats"][1]["pieces"]["a15"] == bis.number


def _etat_piece(app, etat_id):
    from chorus_chain.models.money import EtatAcompte

    with system(app):
        return db.session.get(EtatAcompte, etat_id).piece_id


def test_the_dgd_reconciliation_sets_what_the_dgd_says_beside_what_was_paid(app, db):
    from tests.integration.decompte_general_world import days, establish_dg, establish_pdg, final_etat, sign
    from tests.integration.etats_world import as_moe  # noqa: F401  (the world's MOE helpers)

    w = world(app)
    final = final_etat(app, w)  # état 1 (114 000,00 due to the mandataire) issued, then the final état
    first = final - 1
    validate(app, w, first, at("2026-03-03"))
    [line] = _lines_of(app, first).values()
    pay(app, w, first, line.id, service_fait="2026-03-03", mandat="2026-03-04", amount="100000.00",
        paid_on="2026-03-05")
    establish_pdg(app, w, final, days(4))
    establish_dg(app, w, final, days(5))
    sign(app, w, final, days(6), with_reservations=False)
    document = _export(app, w, w.moa)
    dgd = document["dgd"]
    assert (dgd["etat"], dgd["reception"], dgd["signature"]) == ("2", "2026-02-27", "sans_reserve")
    # The engine's DGD for the mandataire (decompte_general_world): TTC 180 000,00, retenue 9 000,00; acomptes
    # 114 000,00 (état 1), solde 57 000,00.
    mandataire = next(b for b in dgd["beneficiaries"] if b["siret"] == w.mandataire.siret)
    assert (mandataire["acomptes"], mandataire["solde"], mandataire["retenue"]) == ("114000.00", "57000.00",
                                                                                    "9000.00")
    assert mandataire["payee_siret"] == w.mandataire.siret
    # Owed to date 171 000,00 (114 000,00 + 57 000,00); recorded as paid: 100 000,00 of état 1 — not reconciled.
    payee = next(p for p in dgd["payees"] if p["siret"] == w.mandataire.siret)
    assert (payee["owed_to_date"], payee["paid"], payee["reconciled"]) == ("171000.00", "100000.00", False)
    [solde] = _lines_of(app, final).values()
    pay(app, w, first, line.id, amount="14000.00", paid_on="2026-03-09")
    pay(app, w, final, solde.id, service_fait="2026-03-09", mandat="2026-03-09", amount="57000.00",
        paid_on="2026-03-10")
    payee = next(p for p in _export(app, w, w.moa)["dgd"]["payees"] if p["siret"] == w.mandataire.siret)
    assert (payee["owed_to_date"], payee["paid"], payee["reconciled"]) == ("171000.00", "171000.00", True)
    # Only the public side and the holder read it.
    assert _export(app, w, w.cotraitant)["dgd"] is None
