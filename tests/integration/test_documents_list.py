"""The documents already generated stay reachable (issue 6 follow-up), jobs inline (no REDIS_URL): the piece page,
the marché page and "Mes documents" list what the structure asked for, a done document is offered at once (a link,
no new request), a failed one says why and can be asked again, another structure never sees them, and the lists
cost the same queries whatever the number of documents."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, update

from chorus_chain.extensions import db
from chorus_chain.models import GeneratedDocument
from chorus_chain.models.base import utcnow
from chorus_chain.operations import documents as doc_ops
from chorus_chain.operations import documents_list
from tests.integration.pieces_world import act, count, deposit, world
from tests.integration.test_documents_jobs import HX, ask, client_as, only_row


@pytest.fixture
def ws(app, db):
    """A services marché: invoices with VAT (A9 for the sous-traitant in paiement direct)."""
    return world(app, kind="services")


def page_of(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return html.unescape(response.get_data(as_text=True))


def block(page: str, section_id: str) -> str:
    start = page.index(f'id="{section_id}"')
    return page[start:page.index("</section>", start)]


def statements(app, client, url: str) -> int:
    with app.app_context():
        engine = db.engine
    seen = []

    def count_one(conn, cursor, statement, *args):
        if "set_config('chorus." not in statement:  # the tenant's settings: one per transaction
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count_one)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count_one)
    return len(seen)


def test_ask_leave_come_back_the_link_is_there_and_the_button_downloads(app, ws):
    w = ws
    piece_id = deposit(app, w, w.st1, "A9", "ST-0100", ht="1000.00")
    client = client_as(app, w.st1)
    piece_url = f"/s/{w.st1.siret}/pieces/{piece_id}"
    before = block(page_of(client, piece_url), "piece-documents")
    assert "Déjà demandés" not in before and f"/documents/pieces/{piece_id}/pdf" in before

    ask(client, w.st1, f"pieces/{piece_id}/pdf")  # the user asks, then leaves the page
    row = only_row(app, piece_id=piece_id, kind="piece_pdf")
    assert row.status == "done"

    documents = block(page_of(client, piece_url), "piece-documents")  # … and comes back
    link = f"/s/{w.st1.siret}/documents/{row.id}/fichier"
    assert "Déjà demandés pour cette pièce" in documents and row.filename in documents
    assert "PDF de la pièce" in documents and "Ko" in documents  # kind in French, size
    # The PDF button is now the download itself (no second request), never "Régénérer".
    slot = documents[documents.index('id="doc-piece_pdf"'):documents.index('id="doc-facturx"')]
    assert f'href="{link}"' in slot and "Télécharger : PDF" in slot and "hx-post" not in slot
    assert "Régénérer" not in documents
    # Factur-X was not asked: still a button.
    facturx = documents[documents.index('id="doc-facturx"'):]
    assert f"/documents/pieces/{piece_id}/facturx" in facturx.split("</li>")[0]
    assert client.get(link).data.startswith(b"%PDF")
    # "Mes documents" lists it too, with the piece's number and a link to the piece.
    mine = page_of(client, f"/s/{w.st1.siret}/documents/")
    assert "Mes documents" in mine and "ST-0100" in mine and f'href="{link}"' in mine
    assert f'href="{piece_url}"' in mine
    assert f'href="/s/{w.st1.siret}/documents/"' in page_of(client, f"/s/{w.st1.siret}/pieces/")  # the nav


def test_a_piece_changed_since_shows_the_button_again(app, ws):
    w = ws
    piece_id = deposit(app, w, w.st1, "A9", "ST-0101", ht="1000.00")
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{piece_id}/pdf")
    row = only_row(app, piece_id=piece_id, kind="piece_pdf")
    later = utcnow() + timedelta(seconds=5)
    act(app, w.mandataire, piece_id, "validate", now=later)  # the piece moved after the rendering
    documents = block(page_of(client, f"/s/{w.st1.siret}/pieces/{piece_id}"), "piece-documents")
    slot = documents[documents.index('id="doc-piece_pdf"'):documents.index('id="doc-facturx"')]
    assert "hx-post" in slot and "Télécharger :" not in slot  # asked again: the same key gives the same file
    assert f"/documents/{row.id}/fichier" in documents  # still listed below with its date


def test_another_structure_never_sees_the_documents(app, ws):
    w = ws
    piece_id = deposit(app, w, w.st1, "A9", "ST-0102", ht="1000.00")
    owner = client_as(app, w.st1)
    ask(owner, w.st1, f"pieces/{piece_id}/pdf")
    ask(owner, w.st1, f"marches/{w.marche_id}/fiche")
    row = only_row(app, piece_id=piece_id, kind="piece_pdf")
    fiche = only_row(app, structure_id=w.st1.structure_id, kind="fiche")
    # The mandataire sees the piece and the marché, but not st1's documents.
    mandataire = client_as(app, w.mandataire)
    page = page_of(mandataire, f"/s/{w.mandataire.siret}/pieces/{piece_id}")
    assert f"/documents/{row.id}/" not in page and "Déjà demandés" not in page
    marche = page_of(mandataire, f"/s/{w.mandataire.siret}/marches/{w.marche_id}")
    assert f"/documents/{fiche.id}/" not in marche and "Déjà demandés" not in marche
    mine = page_of(mandataire, f"/s/{w.mandataire.siret}/documents/")
    assert "ST-0102" not in mine and "Aucun document préparé" in mine
    # A sibling sous-traitant: 404 on the piece and on st1's list.
    sibling = client_as(app, w.sibling)
    assert sibling.get(f"/s/{w.sibling.siret}/pieces/{piece_id}").status_code == 404
    assert sibling.get(f"/s/{w.st1.siret}/documents/").status_code == 404
    assert "ST-0102" not in page_of(sibling, f"/s/{w.sibling.siret}/documents/")


def test_a_failed_document_shows_its_error_and_can_be_asked_again(app, ws, monkeypatch):
    w = ws

    def broken(prepared):
        raise RuntimeError("weasyprint exploded")

    monkeypatch.setitem(doc_ops.RENDERERS, "piece_pdf", broken)
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 1)  # the outbox gives up at once (retries: test_outbox)
    piece_id = deposit(app, w, w.st1, "A9", "ST-0103", ht="1000.00")
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{piece_id}/pdf")
    row = only_row(app, piece_id=piece_id, kind="piece_pdf")
    assert row.status == "failed"
    documents = block(page_of(client, f"/s/{w.st1.siret}/pieces/{piece_id}"), "piece-documents")
    assert doc_ops.FAILED_MESSAGE in documents and "Réessayer" in documents
    assert f"/documents/{row.id}/fichier" not in documents
    slot = documents[documents.index('id="doc-piece_pdf"'):documents.index('id="doc-facturx"')]
    assert "hx-post" in slot  # a failed document is asked again, not offered
    mine = page_of(client, f"/s/{w.st1.siret}/documents/")
    assert doc_ops.FAILED_MESSAGE in mine and "Réessayer" in mine
    retry = re.search(r'<form method="post" action="([^"]+)"[^>]*hx-target="closest \.doc-status"', mine).group(1)
    monkeypatch.undo()
    again = client.post(retry, headers=HX)
    assert again.status_code == 200 and 'hx-trigger="every 1s"' in again.get_data(as_text=True)  # queued again
    assert only_row(app, piece_id=piece_id, kind="piece_pdf").status == "done"  # the same row, rendered this time
    documents = block(page_of(client, f"/s/{w.st1.siret}/pieces/{piece_id}"), "piece-documents")
    assert f"/documents/{row.id}/fichier" in documents and doc_ops.FAILED_MESSAGE not in documents


def test_a_running_document_polls_on_the_page(app, ws):
    w = ws
    piece_id = deposit(app, w, w.st1, "A9", "ST-0104", ht="1000.00")
    client = client_as(app, w.st1)
    ask(client, w.st1, f"pieces/{piece_id}/pdf")
    row = only_row(app, piece_id=piece_id, kind="piece_pdf")
    with app.app_context():  # as if the worker were still at it
        db.session.execute(update(GeneratedDocument).where(GeneratedDocument.id == row.id)
                           .values(status="running", progress=40))
        db.session.commit()
    documents = block(page_of(client, f"/s/{w.st1.siret}/pieces/{piece_id}"), "piece-documents")
    assert f'hx-get="/s/{w.st1.siret}/documents/{row.id}"' in documents and 'hx-trigger="every 1s"' in documents
    assert "en préparation" in documents and 'value="40"' in documents
    slot = documents[documents.index('id="doc-piece_pdf"'):documents.index('id="doc-facturx"')]
    assert "Télécharger" not in slot


def test_the_fiche_made_today_is_offered_at_once_on_the_marche_page(app, ws):
    w = ws
    client = client_as(app, w.mandataire)
    url = f"/s/{w.mandataire.siret}/marches/{w.marche_id}"
    assert "Déjà demandés" not in page_of(client, url)
    ask(client, w.mandataire, f"marches/{w.marche_id}/fiche")
    fiche = only_row(app, structure_id=w.mandataire.structure_id, kind="fiche")
    documents = block(page_of(client, url), "marche-documents")
    slot = documents[documents.index('id="doc-fiche"'):documents.index('id="doc-marche-zip"')]
    assert f'href="/s/{w.mandataire.siret}/documents/{fiche.id}/fichier"' in slot and "hx-post" not in slot
    assert "Déjà demandés pour ce marché" in documents and "Fiche d'identité du marché (PDF)" in documents
    # Made from other data (yesterday's date, a party since): another key, so the button asks again.
    with app.app_context():
        db.session.execute(update(GeneratedDocument).where(GeneratedDocument.id == fiche.id)
                           .values(content_key="0" * 64))
        db.session.commit()
    slot = block(page_of(client, url), "marche-documents").split('id="doc-marche-zip"')[0]
    assert "hx-post" in slot and "Télécharger :" not in slot
    mine = page_of(client, f"/s/{w.mandataire.siret}/documents/")
    assert "Fiche d'identité du marché (PDF)" in mine and "Marché" in mine


def test_the_list_is_paginated_by_the_database(app, ws, monkeypatch):
    w = ws
    client = client_as(app, w.st1)
    ids = [deposit(app, w, w.st1, "A9", f"ST-011{n}", ht="1000.00") for n in range(3)]
    for piece_id in ids:
        ask(client, w.st1, f"pieces/{piece_id}/pdf")
    monkeypatch.setattr(documents_list, "PER_PAGE", 2)
    first = page_of(client, f"/s/{w.st1.siret}/documents/")
    assert "3 documents — page 1 sur 2" in first
    assert first.index("ST-0112") < first.index("ST-0111") and "ST-0110" not in first  # most recent first
    second = page_of(client, f"/s/{w.st1.siret}/documents/?page=2")
    assert "ST-0110" in second and "ST-0112" not in second


def test_the_lists_cost_the_same_queries_whatever_the_number_of_documents(app, ws):
    w = ws
    client = client_as(app, w.st1)
    piece_id = deposit(app, w, w.st1, "A9", "ST-0120", ht="1000.00")
    others = [deposit(app, w, w.st1, "A9", f"ST-012{n}", ht="1000.00") for n in range(1, 4)]
    ask(client, w.st1, f"pieces/{piece_id}/pdf")
    ask(client, w.st1, f"pieces/{others[0]}/pdf")
    urls = [f"/s/{w.st1.siret}/pieces/{piece_id}", f"/s/{w.st1.siret}/documents/",
            f"/s/{w.st1.siret}/marches/{w.marche_id}"]
    for url in urls:
        client.get(url)  # warm-up
    before = [statements(app, client, url) for url in urls]
    ask(client, w.st1, f"pieces/{piece_id}/facturx")
    ask(client, w.st1, f"pieces/{piece_id}/dossier_zip".replace("_", "-"))
    ask(client, w.st1, f"marches/{w.marche_id}/fiche")
    for other in others[1:]:
        ask(client, w.st1, f"pieces/{other}/pdf")
    assert count(app, GeneratedDocument, GeneratedDocument.structure_id == w.st1.structure_id) >= 7
    after = [statements(app, client, url) for url in urls]
    assert after == before, (before, after)
    assert after[1] <= 8, after  # "Mes documents": the session, the member, the count and the page of rows
