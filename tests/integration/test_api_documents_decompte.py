"""Documents and décomptes through the API (issue 17): a piece's PDF or Factur-X asked (the portal's durable
documents job), followed and fetched, under the same access predicate as the portal; the décompte of a PDM draft
read and entered line by line with the portal's operations, giving the portal's figures."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from chorus_chain.extensions import db
from chorus_chain.models import GeneratedDocument, OutboxJob
from chorus_chain.models.money import Decompte, DecompteLine
from tests.integration import pieces_world as pw
from tests.integration.api_world import bearer
from tests.integration.test_decomptes import w as decompte_world  # noqa: F401 - the fixture

D = Decimal


def _count(app, model, *where):
    with pw.system(app):
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _problem(response, status, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type.startswith("application/problem+json")
    body = response.get_json()
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


# --- documents ------------------------------------------------------------------------------------------------------

def test_a_piece_pdf_is_queued_followed_and_fetched_as_on_the_portal(app, client, db):
    w = pw.world(app)
    piece_id = pw.deposit(app, w, w.mandataire, "A4", "DOC-API-1")
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)

    asked = client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "piece_pdf"}, headers=auth)
    assert asked.status_code == 202, asked.get_data(as_text=True)
    document = asked.get_json()
    assert document["statut"] == "queued" and document["fichier_url"] is None  # answered before the job ran
    assert document["piece_id"] == piece_id and document["type_contenu"] == "application/pdf"
    jobs = [row for row in pw.rows(app, OutboxJob, OutboxJob.job == "render_document")
            if row.payload["document_id"] == document["id"]]
    assert len(jobs) == 1 and jobs[0].status == "done"  # the durable job of the portal (run inline here)

    followed = client.get(f"/api/v1/documents/{document['id']}", headers=auth)
    assert followed.status_code == 200 and followed.get_json()["statut"] == "done"
    url = followed.get_json()["fichier_url"]
    assert url == f"/api/v1/documents/{document['id']}/fichier"
    fetched = client.get(url, headers=auth)
    assert fetched.status_code == 200 and fetched.content_type == "application/pdf"
    assert fetched.data.startswith(b"%PDF")
    assert "attachment" in fetched.headers["Content-Disposition"]

    # The same content asked again: the same row, done at once, no second job.
    again = client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "piece_pdf"}, headers=auth)
    assert again.status_code == 202 and again.get_json()["id"] == document["id"]
    assert again.get_json()["statut"] == "done"
    assert _count(app, GeneratedDocument, GeneratedDocument.piece_id == piece_id) == 1

    # A projet de décompte is no invoice: no Factur-X, with the portal's words, and nothing queued.
    refused = _problem(client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "facturx"},
                                   headers=auth), 422)
    assert refused["detail"] == "Factur-X ne s'applique qu'aux factures et aux avoirs."
    assert _count(app, GeneratedDocument, GeneratedDocument.piece_id == piece_id) == 1


def test_the_facturx_of_an_invoice_through_the_api(app, client, db):
    from chorus_chain.documents.einvoice_in import read_einvoice

    w = pw.world(app, kind="services")
    piece_id = pw.deposit(app, w, w.st1, "A9", "FX-API-1", ht="6570.00")
    auth = bearer(app, client, w.st1.structure_id, w.st1.account_id)
    asked = client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "facturx"}, headers=auth)
    assert asked.status_code == 202, asked.get_data(as_text=True)
    got = client.get(f"/api/v1/documents/{asked.get_json()['id']}/fichier", headers=auth)
    assert got.status_code == 200 and got.data.startswith(b"%PDF")
    read = read_einvoice("facturx.pdf", got.data, claims_facturx=True)  # the portal's reader reads it back
    assert read.xsd_valid is True and read.number == "FX-API-1" and read.total_ht == D("6570.00")


def test_documents_follow_the_access_predicate_and_the_rights(app, client, db):
    w = pw.world(app)
    piece_id = pw.deposit(app, w, w.mandataire, "A4", "DOC-API-2")
    own = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    document_id = client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "piece_pdf"},
                              headers=own).get_json()["id"]

    # The MOE sees the piece: it may ask for its own copy, never read the mandataire's row.
    moe = bearer(app, client, w.moe.structure_id, w.moe.account_id)
    _problem(client.get(f"/api/v1/documents/{document_id}", headers=moe), 404)
    _problem(client.get(f"/api/v1/documents/{document_id}/fichier", headers=moe), 404)
    moe_copy = client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "piece_pdf"}, headers=moe)
    assert moe_copy.status_code == 202 and moe_copy.get_json()["id"] != document_id

    # A sous-traitant of the chain does not see the mandataire's PDM: 404, nothing queued.
    st1 = bearer(app, client, w.st1.structure_id, w.st1.account_id)
    before = _count(app, GeneratedDocument)
    _problem(client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "piece_pdf"}, headers=st1), 404)
    _problem(client.get(f"/api/v1/documents/{document_id}", headers=st1), 404)
    assert _count(app, GeneratedDocument) == before

    # A client of the mandataire without the consultation right: 403.
    blind = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id, right_emises="none",
                   right_travaux="none", right_recues="none", right_organisation="consultation")
    _problem(client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "piece_pdf"}, headers=blind), 403)
    _problem(client.get(f"/api/v1/documents/{document_id}", headers=blind), 403)

    # An unknown kind of document: refused with the field, in French.
    body = _problem(client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "bulletin"}, headers=own),
                    422, "type")
    assert "bulletin" not in body["detail"]


def test_a_document_not_ready_is_a_409_until_done(app, client, db):
    w = pw.world(app)
    piece_id = pw.deposit(app, w, w.mandataire, "A4", "DOC-API-3")
    auth = bearer(app, client, w.mandataire.structure_id, w.mandataire.account_id)
    document_id = client.post(f"/api/v1/pieces/{piece_id}/documents", json={"type": "piece_pdf"},
                              headers=auth).get_json()["id"]
    with pw.system(app):
        row = db.session.get(GeneratedDocument, document_id)
        row.status, row.progress, row.sha256 = "running", 40, None
        db.session.commit()
    followed = client.get(f"/api/v1/documents/{document_id}", headers=auth).get_json()
    assert (followed["statut"], followed["progression"], followed["fichier_url"]) == ("running", 40, None)
    body = _problem(client.get(f"/api/v1/documents/{document_id}/fichier", headers=auth), 409)
    assert "pas prêt" in body["detail"]


# --- the décompte of a PDM --------------------------------------------------------------------------------------------

def test_decompte_lines_read_and_entered_through_the_api_give_the_portals_figures(app, client, decompte_world):
    w = decompte_world
    piece_id = pw.create(app, w, w.st1, "A10", "PDM-API-1", ht="1.00")
    auth = bearer(app, client, w.st1.structure_id, w.st1.account_id)
    unit, lump = w.lines["st1_unit"], w.lines["st1_lump"]

    read = client.get(f"/api/v1/pieces/{piece_id}/decompte", headers=auth)
    assert read.status_code == 200, read.get_data(as_text=True)
    sheet = read.get_json()
    assert [line["reference"] for line in sheet["lignes"]] == ["S1", "S2"]  # its part only
    assert sheet["enregistre"] is False and sheet["modifiable"] is True
    assert all(D(line["cumul"]) == 0 for line in sheet["lignes"])

    saved = client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=auth, json={
        "mois": "2026-01", "lignes": [{"ligne_id": unit, "cumul": "4"}, {"ligne_id": lump, "cumul": "20"}],
        "approvisionnements": "100,00"})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    body = saved.get_json()
    assert body["montant_ht"] == "1500.00" and body["enregistre"] is True  # 4 × 100 + 20 % × 5 000 + 100
    lines = {line["ligne_id"]: line for line in body["lignes"]}
    assert (lines[unit]["montant_cumule_ht"], lines[lump]["montant_cumule_ht"]) == ("400.00", "1000.00")
    assert body["cumuls"]["approvisionnements"] == "100.00"
    drafted = pw.piece(app, piece_id)
    assert (drafted.montant_ht, drafted.montant_ttc, drafted.status) == (D("1500.00"), D("1500.00"), "BROUILLON")
    (decompte,) = pw.rows(app, Decompte, Decompte.piece_id == piece_id)
    assert decompte.month == "2026-01"
    # The portal's décompte page shows the same figures.
    page = pw.logged_in(app, w.st1).get(f"/s/{w.st1.siret}/pieces/{piece_id}/decompte").get_data(as_text=True)
    assert "1\u202f500,00" in page or "1 500,00" in page or "1\xa0500,00" in page


def test_decompte_refusals_name_the_line_and_keep_nothing(app, client, decompte_world):
    w = decompte_world
    piece_id = pw.create(app, w, w.st1, "A10", "PDM-API-2", ht="1.00")
    auth = bearer(app, client, w.st1.structure_id, w.st1.account_id)
    unit = w.lines["st1_unit"]
    before = (_count(app, Decompte), _count(app, DecompteLine))

    body = _problem(client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=auth,
                                json={"mois": "2026-01", "lignes": [{"ligne_id": unit, "cumul": "-3"}]}),
                    422, f"lignes[ligne_id={unit}].cumul")
    assert "S1" in body["detail"] or "négati" in body["detail"]
    # A line of another party's part (the cotraitant's) is no line of this décompte.
    _problem(client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=auth,
                         json={"mois": "2026-01", "lignes": [{"ligne_id": w.lines["cotraitant"], "cumul": "1"}]}),
             422, f"lignes[ligne_id={w.lines['cotraitant']}]")
    _problem(client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=auth,
                         json={"mois": "2026-13"}), 422, "mois")
    _problem(client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=auth,
                         json={"mois": "2026-01", "inconnu": 1}), 422, "inconnu")
    assert (_count(app, Decompte), _count(app, DecompteLine)) == before

    # A reading client reads, never enters.
    reader = bearer(app, client, w.st1.structure_id, w.st1.account_id, right_emises="consultation",
                    right_travaux="consultation", right_recues="consultation", right_organisation="none")
    assert client.get(f"/api/v1/pieces/{piece_id}/decompte", headers=reader).status_code == 200
    _problem(client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=reader, json={"mois": "2026-01"}), 403)
    # The cotraitant does not see the sous-traitant's draft: 404 on read and entry.
    other = bearer(app, client, w.cotraitant.structure_id, w.cotraitant.account_id)
    _problem(client.get(f"/api/v1/pieces/{piece_id}/decompte", headers=other), 404)
    _problem(client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=other, json={"mois": "2026-01"}), 404)


def test_a_decompte_entered_through_the_api_is_sent_and_then_frozen(app, client, decompte_world):
    w = decompte_world
    piece_id = pw.create(app, w, w.st1, "A10", "PDM-API-3", ht="1.00")
    auth = bearer(app, client, w.st1.structure_id, w.st1.account_id)
    saved = client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=auth, json={
        "mois": "2026-01", "lignes": [{"ligne_id": w.lines["st1_unit"], "cumul": "2"}]})
    assert saved.status_code == 200 and saved.get_json()["problemes_envoi"] == [], saved.get_json()
    sent = client.post(f"/api/v1/pieces/{piece_id}/envoi", headers=auth)
    assert sent.status_code == 200, sent.get_data(as_text=True)
    after = client.get(f"/api/v1/pieces/{piece_id}/decompte", headers=auth).get_json()
    assert after["modifiable"] is False and after["montant_ht"] == "200.00"
    _problem(client.post(f"/api/v1/pieces/{piece_id}/decompte", headers=auth, json={"mois": "2026-01"}), 422)
