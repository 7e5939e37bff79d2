"""The décompte of a PDM draft (cumulative since the start) on the real database and its page: the depositor's lines,
the draft's amounts set from the cumul (VAT per regime), the pre-fill from last month's décompte, justifications
required before the deposit, stale figures caught, bad input refused in French, and the tenancy walk of the pages."""
from __future__ import annotations

from decimal import Decimal

import pytest

from chorus_chain.models import Account
from chorus_chain.models.money import Decompte, DecompteLine, PriceLine
from chorus_chain.operations import OperationError
from chorus_chain.operations import decomptes as ops
from chorus_chain.operations import pieces as piece_ops
from chorus_chain.operations import price_schedule as schedule_ops
from tests import factories
from tests.integration.pieces_world import NOW, acting, create, piece, rows, status_of, world
from tests.integration.test_tenancy_walk import _url, world as walk_world  # noqa: F401 - the walk's fixture

D = Decimal


@pytest.fixture
def w(app, db):
    """The pieces world with a bordereau: two lines for st1 (10 m3 at 100 €, a 5 000 € lump sum), one for the
    mandataire (no party), one for the cotraitant."""
    w = world(app)
    w.lines = {}
    for key, raw in {
        "st1_unit": dict(reference="S1", designation="Cloisons", unit="m3", quantity="10", unit_price_ht="100",
                         party_id=str(w.st1.party_id)),
        "st1_lump": dict(reference="S2", designation="Plafonds", lump_sum="1", amount_ht="5000",
                         party_id=str(w.st1.party_id)),
        "holder": dict(reference="M1", designation="Gros œuvre", unit="m2", quantity="200", unit_price_ht="50"),
        "cotraitant": dict(reference="C1", designation="Menuiseries", lump_sum="1", amount_ht="8000",
                           party_id=str(w.cotraitant.party_id)),
    }.items():
        with acting(app, w.moe) as (account, structure):
            w.lines[key] = schedule_ops.add_line(account, structure, w.marche_id, raw, now=NOW).id
    return w


def _save(app, who, piece_id, **raw):
    raw.setdefault("month", "2026-02")
    with acting(app, who) as (account, structure):
        return ops.save_decompte(account, structure, piece_id, raw, now=NOW)


def _deposit(app, who, piece_id):
    with acting(app, who) as (account, structure):
        piece_ops.deposit(piece_id, account, structure, now=NOW)


def test_a_sous_traitant_claims_its_lines_and_the_draft_takes_the_amounts(app, w):
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    with acting(app, w.st1) as (_, structure):
        sheet = ops.sheet_for(piece_ops.piece_for(structure, piece_id))
        assert [row.line.reference for row in sheet.rows] == ["S1", "S2"]  # its part only
        assert sheet.previous is None and all(row.measure == 0 for row in sheet.rows)
    sheet = _save(app, w.st1, piece_id, month="2026-01", **{f"m_{w.lines['st1_unit']}": "4",
                                                            f"m_{w.lines['st1_lump']}": "20",
                                                            "approvisionnements": "100,00"})
    assert sheet.amount.montant_ht == D("1500.00")  # 4 × 100 + 20 % × 5 000 + 100
    drafted = piece(app, piece_id)
    assert (drafted.montant_ht, drafted.montant_tva, drafted.montant_ttc) == (D("1500.00"), D("0.00"),
                                                                                D("1500.00"))  # autoliquidation
    assert drafted.status == "BROUILLON"
    (decompte,) = rows(app, Decompte, Decompte.piece_id == piece_id)
    assert (decompte.month, decompte.final, decompte.approvisionnements) == ("2026-01", False, D("100.00"))
    lines = {row.price_line_id: row for row in rows(app, DecompteLine, DecompteLine.decompte_id == decompte.id)}
    assert lines[w.lines["st1_unit"]].quantity == D("4.000") and lines[w.lines["st1_unit"]].amount_ht == D("400.00")
    assert lines[w.lines["st1_lump"]].percent == D("20.000") and lines[w.lines["st1_lump"]].quantity is None
    assert all(row.admitted_amount_ht is None for row in lines.values())


def test_the_holder_claims_its_own_and_unassigned_lines_with_vat(app, w):
    piece_id = create(app, w, w.mandataire, "A4", "PDM-M1", ht="1.00")
    with acting(app, w.mandataire) as (account, structure):
        sheet = ops.save_decompte(account, structure, piece_id, {"month": "2026-02", f"m_{w.lines['holder']}": "10"},
                                  now=NOW)
        assert [row.line.reference for row in sheet.rows] == ["M1"]  # not the cotraitant's nor st1's
    drafted = piece(app, piece_id)
    assert (drafted.montant_ht, drafted.montant_tva, drafted.montant_ttc) == (D("500.00"), D("100.00"),
                                                                                D("600.00"))


def test_next_month_is_prefilled_and_claims_the_difference(app, w):
    first = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    _save(app, w.st1, first, month="2026-01", **{f"m_{w.lines['st1_unit']}": "4", f"m_{w.lines['st1_lump']}": "20",
                                                 "approvisionnements": "100"})
    _deposit(app, w.st1, first)
    assert status_of(app, first) != "BROUILLON"
    second = create(app, w, w.st1, "A10", "PDM-2", ht="1.00")
    with acting(app, w.st1) as (_, structure):
        sheet = ops.sheet_for(piece_ops.piece_for(structure, second))
        assert sheet.previous is not None and sheet.month == "2026-02"
        assert [(row.previous, row.measure) for row in sheet.rows] == [(D("4.000"), D("4.000")),
                                                                         (D("20.000"), D("20.000"))]
        assert sheet.extras["approvisionnements"] == D("100.00")
    # a line left empty keeps last month's cumul; supplies turned into works go down
    sheet = _save(app, w.st1, second, **{f"m_{w.lines['st1_unit']}": "7", "approvisionnements": "50"})
    assert sheet.amount.montant_ht == D("250.00")  # +300 works, −50 approvisionnements
    assert piece(app, second).montant_ht == D("250.00")
    # a décompte for a month already claimed is refused
    with pytest.raises(OperationError, match="déjà été envoyé") as error:
        _save(app, w.st1, second, month="2026-01")
    assert error.value.field == "month"


def test_beyond_100_percent_needs_a_justification_before_the_deposit(app, w):
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    unit = w.lines["st1_unit"]
    sheet = _save(app, w.st1, piece_id, **{f"m_{unit}": "12"})  # 12 m3 of the 10 foreseen
    assert sheet.amount.montant_ht == D("1200.00")
    with pytest.raises(piece_ops.PreflightRefused) as refused:
        _deposit(app, w.st1, piece_id)
    messages = [p.message_fr for p in refused.value.problems]
    assert any("Ligne S1 : 12\u00a0m³ dépasse les 100 %" in m for m in messages), messages
    assert status_of(app, piece_id) == "BROUILLON"
    _save(app, w.st1, piece_id, **{f"m_{unit}": "12", f"j_{unit}": "Cloisons supplémentaires, OS n° 4"})
    _deposit(app, w.st1, piece_id)
    assert status_of(app, piece_id) == "A_VALIDER_1"


def test_going_backwards_needs_a_justification_and_never_a_negative_claim(app, w):
    first = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    unit, lump = w.lines["st1_unit"], w.lines["st1_lump"]
    _save(app, w.st1, first, month="2026-01", **{f"m_{unit}": "4", f"m_{lump}": "20"})
    _deposit(app, w.st1, first)
    second = create(app, w, w.st1, "A10", "PDM-2", ht="1.00")
    with pytest.raises(OperationError, match="montant négatif"):
        _save(app, w.st1, second, **{f"m_{unit}": "3"})  # 100 € less, nothing else: a credit, not a PDM
    sheet = _save(app, w.st1, second, **{f"m_{unit}": "3", f"m_{lump}": "30"})  # −100 + 500
    assert sheet.amount.montant_ht == D("400.00")
    assert [p.kind for p in sheet.rows[0].problems] == ["backwards"] and sheet.rows[0].unjustified
    with pytest.raises(piece_ops.PreflightRefused, match="inférieur à celui du décompte précédent"):
        _deposit(app, w.st1, second)


@pytest.mark.parametrize("raw, field, message", [
    ({"m": "-1"}, "m", "réfaction"),
    ({"m": "4,5,6"}, "m", "illisible « 4,5,6 »"),
    ({"primes": "-10"}, "primes", "ne peut pas être négatif"),
    ({"month": "février"}, "month", "AAAA-MM"),
])
def test_bad_input_is_refused_in_french_and_nothing_is_kept(app, w, raw, field, message):
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    unit = w.lines["st1_unit"]
    posted = {(f"m_{unit}" if k == "m" else k): v for k, v in raw.items()}
    with pytest.raises(OperationError) as error:
        _save(app, w.st1, piece_id, **posted)
    assert message in error.value.message
    assert error.value.field == (f"m_{unit}" if field == "m" else field)
    assert rows(app, Decompte, Decompte.piece_id == piece_id) == []
    assert piece(app, piece_id).montant_ht == D("1.00")


def test_a_stale_decompte_is_caught_at_the_deposit(app, w):
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    unit = w.lines["st1_unit"]
    _save(app, w.st1, piece_id, **{f"m_{unit}": "4"})
    with acting(app, w.moe) as (account, structure):  # only a draft uses the line: its price may change
        schedule_ops.update_line(account, structure, w.marche_id, unit,
                                 dict(reference="S1", designation="Cloisons", unit="m3", quantity="10",
                                      unit_price_ht="110", party_id=str(w.st1.party_id)), now=NOW)
    with pytest.raises(piece_ops.PreflightRefused, match="n'est plus à jour"):
        _deposit(app, w.st1, piece_id)
    _save(app, w.st1, piece_id, **{f"m_{unit}": "4"})
    assert piece(app, piece_id).montant_ht == D("440.00")
    _deposit(app, w.st1, piece_id)
    with pytest.raises(OperationError, match="Ce projet de décompte est déjà envoyé"):
        _save(app, w.st1, piece_id, **{f"m_{unit}": "5"})


def test_only_pdm_pieces_and_own_drafts(app, w):
    other = create(app, w, w.mandataire, "A4", "PDM-M1", ht="1.00")
    with pytest.raises(OperationError, match="pas une pièce de votre structure"):
        _save(app, w.st1, other)


# --- pages -----------------------------------------------------------------------------------------------------------

def _login(client, app, who):
    factories.login(client, factories.reload(app, Account, who.account_id))


def test_decompte_page_preview_and_save(app, w, client):
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    unit = w.lines["st1_unit"]
    _login(client, app, w.st1)
    url = f"/s/{w.st1.siret}/pieces/{piece_id}/decompte"
    draft = client.get(f"/s/{w.st1.siret}/pieces/{piece_id}").get_data(as_text=True)
    assert "Décompte (cumul depuis le début)" in draft and url in draft
    page = client.get(url)
    assert page.status_code == 200 and "Cloisons" in page.get_data(as_text=True)
    assert "Menuiseries" not in page.get_data(as_text=True)  # the cotraitant's line
    preview = client.post(url, data={"intent": "preview", "month": "2026-02", f"m_{unit}": "12"},
                          headers={"HX-Request": "true"})
    body = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "<html" not in body
    assert "dépasse les 100 %" in body and f'name="j_{unit}"' in body and "120 %" in body  # progress
    assert rows(app, Decompte, Decompte.piece_id == piece_id) == []  # a preview keeps nothing
    refused = client.post(url, data={"intent": "save", "month": "2026-02", f"m_{unit}": "-2"})
    assert refused.status_code == 422 and "réfaction" in refused.get_data(as_text=True)
    saved = client.post(url, data={"intent": "save", "month": "2026-02", f"m_{unit}": "5"})
    assert saved.status_code == 303
    assert piece(app, piece_id).montant_ht == D("500.00")


def test_decompte_page_of_another_structure_is_404(app, w, client):
    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    _login(client, app, w.sibling)
    assert client.get(f"/s/{w.sibling.siret}/pieces/{piece_id}/decompte").status_code == 404


# --- the tenancy walk of this area's routes (outsider 404, anonymous → login, member without rights 403) --------------

def _bordereau_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("bordereau.")]


def test_tenancy_walk_of_the_bordereau_pages(app, client, walk_world):
    rules = _bordereau_rules(app)
    assert len(rules) >= 9
    for who, expected in ((None, (302,)), ("outsider", (404,)), ("powerless", (403,))):
        client = app.test_client()
        if who is not None:
            factories.login(client, walk_world[who])
        for rule in rules:
            url = _url(app, rule, walk_world["args"])
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(url, method=method, data={})
                assert response.status_code in expected, f"{who} {method} {url} → {response.status_code}"
    assert PriceLine  # the walk's line is a PriceLine of the victim's marché (tests/integration/test_tenancy_walk.py)


def test_a_pdm_draft_may_start_without_amounts_an_invoice_may_not(app, w):
    # The amounts of a projet de décompte come from its décompte: the draft starts at zero.
    piece_id = create(app, w, w.st1, "A10", "PDM-EMPTY", montant_ht="", montant_tva="", montant_ttc="")
    assert piece(app, piece_id).montant_ht == D("0.00")
    _save(app, w.st1, piece_id, **{f"m_{w.lines['st1_unit']}": "2"})
    assert piece(app, piece_id).montant_ht == D("200.00")
    # An invoice (A9) has no décompte: its amounts are still required.
    with pytest.raises(OperationError):
        create(app, w, w.st1, "A9", "FAC-EMPTY", montant_ht="", montant_tva="", montant_ttc="")
