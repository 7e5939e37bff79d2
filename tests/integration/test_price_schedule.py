"""The price schedule of a marché on the real database and through its pages: lines by hand, CSV and XLSX import in
two steps (preview writes nothing, confirmation all or nothing), attribution to a party, who may change it, who sees
which lines, and lines a deposited décompte uses that keep their price."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from chorus_chain.models import Piece, Structure
from chorus_chain.models.money import Decompte, DecompteLine, PriceLine
from chorus_chain.operations import OperationError
from chorus_chain.operations import price_schedule as ops
from tests import factories
from tests.integration.pieces_world import NOW, acting, count, rows, system, world

D = Decimal


def _line(app, w, who, **raw):
    raw.setdefault("designation", "Ligne")
    with acting(app, who) as (account, structure):
        return ops.add_line(account, structure, w.marche_id, raw, now=NOW).id


def _xlsx(rows_) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows_:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


CSV = ("Bordereau école;;;;;;\n"
       "Lot;Réf.;Désignation;Unité;Quantité;Prix unitaire HT;Montant HT\n"
       "02;2.1;Béton de propreté;m3;12,5;100,40;1 255,00\n"
       "02;2.2;Installation de chantier;Ft;;;5 000,00\n"
       ";;Sous-total lot 02;;;;6 255,00\n").encode("cp1252")


def _login(client, app, who):
    with system(app):
        from chorus_chain.models import Account

        account = factories.reload(app, Account, who.account_id)
    factories.login(client, account)


# --- by hand ---------------------------------------------------------------------------------------------------------

def test_editors_add_change_and_delete_lines(app, db):
    w = world(app)
    line_id = _line(app, w, w.moe, lot="02", reference="2.1", designation="Béton", unit="m3", quantity="12,5",
                    unit_price_ht="100,40")
    (line,) = rows(app, PriceLine, PriceLine.id == line_id)
    assert line.amount_ht == D("1255.00") and line.party_id is None and not line.lump_sum
    _line(app, w, w.moa, reference="0", designation="Installation", lump_sum="on", amount_ht="5 000")
    with acting(app, w.mandataire) as (account, structure):
        ops.update_line(account, structure, w.marche_id, line_id,
                        dict(lot="02", reference="2.1", designation="Béton dosé à 150 kg", unit="m3", quantity="10",
                             unit_price_ht="100,40", party_id=str(w.st1.party_id)), now=NOW)
    (line,) = rows(app, PriceLine, PriceLine.id == line_id)
    assert line.amount_ht == D("1004.00") and line.party_id == w.st1.party_id
    with acting(app, w.mandataire) as (account, structure):
        ops.delete_line(account, structure, w.marche_id, line_id, now=NOW)
    assert count(app, PriceLine, PriceLine.marche_id == w.marche_id) == 1


@pytest.mark.parametrize("raw, field, message", [
    (dict(reference="1", designation="x", quantity="-2", unit_price_ht="3"), "quantity", "Quantité négative"),
    (dict(reference="1", designation="x", quantity="12,5,3", unit_price_ht="3"), "quantity", "illisible"),
    (dict(reference="", designation="x", quantity="1", unit_price_ht="3"), "reference", "Référence manquante"),
    (dict(reference="1", designation="x", quantity="1"), "unit_price_ht", "Prix unitaire HT manquant"),
    (dict(reference="1", designation="x", lump_sum="on"), "amount_ht", "Forfait sans montant HT"),
])
def test_bad_lines_are_refused_in_french_on_their_field(app, db, raw, field, message):
    w = world(app)
    with pytest.raises(OperationError) as error, acting(app, w.moe) as (account, structure):
        ops.add_line(account, structure, w.marche_id, raw, now=NOW)
    assert error.value.field == field and message in error.value.message


def test_duplicate_reference_refused_whatever_its_case(app, db):
    w = world(app)
    _line(app, w, w.moe, reference="A1", quantity="1", unit_price_ht="1")
    with pytest.raises(OperationError, match="figure déjà"), acting(app, w.moe) as (account, structure):
        ops.add_line(account, structure, w.marche_id, dict(reference="a1", designation="x", amount_ht="1",
                                                            lump_sum="1"), now=NOW)


@pytest.mark.parametrize("who", ["cotraitant", "st1", "st2"])
def test_only_moa_moe_and_holder_change_the_schedule(app, db, who):
    w = world(app)
    actor = getattr(w, who)
    with pytest.raises(OperationError, match="Seuls le maître d'ouvrage"), acting(app, actor) as (account, structure):
        ops.add_line(account, structure, w.marche_id, dict(reference="1", designation="x", amount_ht="1",
                                                            lump_sum="1"), now=NOW)


def test_parties_see_only_the_lines_of_their_branch(app, db):
    w = world(app)
    own = _line(app, w, w.mandataire, reference="M1", amount_ht="100", lump_sum="1")
    st1 = _line(app, w, w.mandataire, reference="S1", amount_ht="50", lump_sum="1", party_id=str(w.st1.party_id))
    st2 = _line(app, w, w.mandataire, reference="S2", amount_ht="20", lump_sum="1", party_id=str(w.st2.party_id))
    co = _line(app, w, w.mandataire, reference="C1", amount_ht="70", lump_sum="1",
               party_id=str(w.cotraitant.party_id))
    seen = {}
    for key in ("moe", "mandataire", "cotraitant", "st1", "sibling", "st2"):
        with acting(app, getattr(w, key)) as (_, structure):
            seen[key] = {line.id for line in ops.schedule_for(structure, w.marche_id).lines}
    assert seen["moe"] == seen["mandataire"] == {own, st1, st2, co}
    assert seen["st1"] == {st1, st2}  # its own and its sous-traitant's
    assert seen["st2"] == {st2}
    assert seen["cotraitant"] == {co}
    assert seen["sibling"] == set()


def test_assign_lines_and_totals_per_party(app, db):
    w = world(app)
    a = _line(app, w, w.moe, lot="01", reference="A", quantity="2", unit_price_ht="10")
    b = _line(app, w, w.moe, lot="02", reference="B", quantity="3", unit_price_ht="10")
    with acting(app, w.moe) as (account, structure):
        assert ops.assign_lines(account, structure, w.marche_id, [a, b], str(w.st1.party_id), now=NOW) == 2
        with pytest.raises(OperationError, match="co-traitant ou un sous-traitant"):
            ops.assign_lines(account, structure, w.marche_id, [a], str(w.moe.party_id), now=NOW)
    with acting(app, w.moe) as (_, structure):
        schedule = ops.schedule_for(structure, w.marche_id)
        assert [(g.label, g.total_ht) for g in schedule.by_lot] == [("Lot 01", D("20.00")), ("Lot 02", D("30.00"))]
        assert [(g.count, g.total_ht, g.part_ttc) for g in schedule.by_party] == [(2, D("50.00"), D("96000.00"))]


def _deposited_decompte(app, w, line_id):
    """st1's projet de décompte claiming half of `line_id`, entered line by line and deposited (the real path: its
    access rows are the chain's)."""
    from chorus_chain.operations import decomptes as decompte_ops
    from chorus_chain.operations import pieces as piece_ops
    from tests.integration.pieces_world import create

    piece_id = create(app, w, w.st1, "A10", "PDM-1", ht="1.00")
    with acting(app, w.st1) as (account, structure):
        decompte_ops.save_decompte(account, structure, piece_id, {"month": "2026-02", f"m_{line_id}": "5"}, now=NOW)
    with acting(app, w.st1) as (account, structure):
        piece_ops.deposit(piece_id, account, structure, now=NOW)
    return piece_id


def test_a_line_used_by_a_deposited_decompte_keeps_its_price(app, db):
    w = world(app)
    line_id = _line(app, w, w.mandataire, reference="A", quantity="10", unit_price_ht="10",
                    party_id=str(w.st1.party_id))
    piece_id = _deposited_decompte(app, w, line_id)
    with acting(app, w.moe) as (account, structure):
        with pytest.raises(OperationError, match="projet de décompte déjà envoyé"):
            ops.delete_line(account, structure, w.marche_id, line_id, now=NOW)
        with pytest.raises(OperationError, match="son prix") as error:
            ops.update_line(account, structure, w.marche_id, line_id,
                            dict(reference="A", designation="x", quantity="10", unit_price_ht="11"), now=NOW)
        assert error.value.field == "unit_price_ht"
        # the designation may still be corrected
        ops.update_line(account, structure, w.marche_id, line_id,
                        dict(reference="A", designation="Béton corrigé", quantity="10", unit_price_ht="10",
                             party_id=str(w.st1.party_id)), now=NOW)
    (line,) = rows(app, PriceLine, PriceLine.id == line_id)
    assert line.designation == "Béton corrigé" and line.amount_ht == D("100.00")
    assert count(app, Piece, Piece.id == piece_id) == 1


def test_the_used_lines_are_read_through_the_access_predicate(app, db):
    """Every editor (MOA, MOE, mandataire) sees the deposited décompte that locks a line — the predicate loses no lock
    — and the lock is read as the editor: a structure that does not see the piece learns nothing from the query."""
    w = world(app)
    line_id = _line(app, w, w.moe, reference="A", quantity="10", unit_price_ht="10", party_id=str(w.st1.party_id))
    _deposited_decompte(app, w, line_id)
    for editor in (w.moa, w.moe, w.mandataire):
        with acting(app, editor) as (_, structure):
            assert ops.used_line_ids(w.marche_id, structure.id) == {line_id}, editor.key
            assert ops.schedule_for(structure, w.marche_id).used_ids == {line_id}
    for outsider in (w.sibling, w.cotraitant, w.st_co):  # no access row for st1's piece
        with acting(app, outsider) as (_, structure):
            assert ops.used_line_ids(w.marche_id, structure.id) == set(), outsider.key
            assert ops.schedule_for(structure, w.marche_id).used_ids == set()  # not an editor: never asked
    assert count(app, DecompteLine, DecompteLine.price_line_id == line_id) == 1  # one lock, whoever reads


# --- import ----------------------------------------------------------------------------------------------------------

def test_csv_import_preview_writes_nothing_then_confirm_imports_all(app, db):
    w = world(app)
    with acting(app, w.moe) as (_, structure):
        result, token = ops.stage_import(structure, w.marche_id, "dpgf.csv", CSV, now=NOW)
    assert result.ok and [line.reference for line in result.lines] == ["2.1", "2.2"] and token
    assert count(app, PriceLine, PriceLine.marche_id == w.marche_id) == 0
    with acting(app, w.moe) as (account, structure):
        created = ops.confirm_staged_import(account, structure, w.marche_id, token, now=NOW)
    assert len(created) == 2
    lines = rows(app, PriceLine, PriceLine.marche_id == w.marche_id, order_by=PriceLine.position)
    assert [(line.reference, line.amount_ht, line.lump_sum) for line in lines] == [
        ("2.1", D("1255.00"), False), ("2.2", D("5000.00"), True)]
    # the same file again: every reference is already there, nothing is imported
    with pytest.raises(ops.ImportRefused) as error, acting(app, w.moe) as (account, structure):
        ops.confirm_import(account, structure, w.marche_id, "dpgf.csv", CSV, now=NOW)
    assert "ligne 3 : référence « 2.1 » déjà au bordereau du marché" in [e.message_fr
                                                                          for e in error.value.result.errors]


def test_xlsx_import_with_line_errors_is_all_or_nothing(app, db):
    w = world(app)
    content = _xlsx([["Référence", "Désignation", "Unité", "Qté", "PU HT"],
                     ["1", "Fouilles", "m3", 10, 20.5],
                     ["2", "Remblai", "m3", "12,5,3", 20],
                     ["3", "Enduit", "m2", -4, 12]])
    with acting(app, w.mandataire) as (_, structure):
        result, token = ops.stage_import(structure, w.marche_id, "DPGF.xlsx", content, now=NOW)
    assert token is None
    assert [e.message_fr for e in result.errors] == [
        "ligne 3 : quantité illisible « 12,5,3 »",
        "ligne 4 : quantité négative « −4 » : un bordereau ne porte que des montants positifs"]
    with pytest.raises(ops.ImportRefused), acting(app, w.mandataire) as (account, structure):
        ops.confirm_import(account, structure, w.marche_id, "DPGF.xlsx", content, now=NOW)
    assert count(app, PriceLine, PriceLine.marche_id == w.marche_id) == 0
    good = _xlsx([["Référence", "Désignation", "Unité", "Qté", "PU HT"], ["1", "Fouilles", "m3", 10, 20.5]])
    with acting(app, w.mandataire) as (account, structure):
        (line,) = ops.confirm_import(account, structure, w.marche_id, "DPGF.xlsx", good, now=NOW)
        assert line.amount_ht == D("205.00")


@pytest.mark.parametrize("name, content, message", [
    ("dpgf.xls", b"x", "Enregistrez-le au format .xlsx"),
    ("dpgf.pdf", b"%PDF", "Format non reconnu"),
    ("dpgf.csv", b"", "vide"),
    ("dpgf.csv", b"x" * (ops.MAX_IMPORT_BYTES + 1), "au plus"),
    ("dpgf.xlsx", b"PK\x03\x04 not a zip", "illisible"),
])
def test_bad_files_are_refused(app, db, name, content, message):
    w = world(app)
    with pytest.raises(OperationError, match=message), acting(app, w.moe) as (_, structure):
        ops.preview_import(structure, w.marche_id, name, content)


def test_import_over_5000_lines_is_refused(app, db):
    w = world(app)
    text = "Référence;Désignation;Montant HT\n" + "".join(f"R{i};Ligne;1\n" for i in range(5001))
    with acting(app, w.moe) as (_, structure):
        result = ops.preview_import(structure, w.marche_id, "gros.csv", text.encode())
    assert not result.lines and "plus de 5\u202f000 lignes" in result.errors[0].message_fr


# --- pages -----------------------------------------------------------------------------------------------------------

def test_pages_add_inline_import_preview_and_confirm(app, db, client):
    w = world(app)
    _login(client, app, w.moe)
    base = f"/s/{w.moe.siret}/marches/{w.marche_id}/bordereau"
    page = client.get(base)
    assert page.status_code == 200 and "Bordereau des prix" in page.get_data(as_text=True)
    added = client.post(f"{base}/lignes", data=dict(reference="A", designation="Fouilles", unit="m3",
                                                    quantity="10", unit_price_ht="2,5", party_id=""),
                        headers={"HX-Request": "true"})
    body = added.get_data(as_text=True)
    assert added.status_code == 200 and 'id="schedule"' in body and "<html" not in body
    assert "Ligne « A » ajoutée" in body and "25,00" in body
    refused = client.post(f"{base}/lignes", data=dict(reference="B", designation="x", quantity="-1",
                                                      unit_price_ht="1"), headers={"HX-Request": "true"})
    assert refused.status_code == 422 and "Quantité négative" in refused.get_data(as_text=True)
    preview = client.post(f"{base}/import", data={"file": (io.BytesIO(CSV), "dpgf.csv")},
                          content_type="multipart/form-data")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "2 lignes prêtes à importer" in text
    assert count(app, PriceLine, PriceLine.marche_id == w.marche_id) == 1
    token = text.split('name="token" type="hidden" value="')[1].split('"')[0] if 'name="token" type="hidden"' in text \
        else text.split('id="token" name="token" type="hidden" value="')[1].split('"')[0]
    confirmed = client.post(f"{base}/import/confirmation", data={"token": token})
    assert confirmed.status_code == 303
    assert count(app, PriceLine, PriceLine.marche_id == w.marche_id) == 3
    bad = client.post(f"{base}/import", data={"file": (io.BytesIO(b"Ref;Designation;Quantite;PU\n1;x;1,2,3;4\n"),
                                                        "bad.csv")}, content_type="multipart/form-data")
    assert bad.status_code == 422 and "ligne 2 : quantité illisible « 1,2,3 »" in bad.get_data(as_text=True)


def test_pages_rights(app, db, client):
    w = world(app)
    _login(client, app, w.st1)
    base = f"/s/{w.st1.siret}/marches/{w.marche_id}/bordereau"
    assert client.get(base).status_code == 200  # reads its lines
    assert client.post(f"{base}/lignes", data=dict(reference="A", designation="x", amount_ht="1",
                                                   lump_sum="y")).status_code == 403
