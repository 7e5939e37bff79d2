"""The décompte général through the pages (issue 12, end of contract): the MOE establishes the PDG on the final
état's page, the MOA finds it in its Synthèse and notifies the DG, the titulaire finds the DG to sign in its Synthèse
with its countdown and signs it with reservations, the paying office pays the solde's line; the disputed sums stay
visible to the MOA and the titulaire, never to a co-traitant. World: tests/integration/decompte_general_world.py
(solde 57 000,00 € for the mandataire)."""
from __future__ import annotations

import re

from chorus_chain.models.base import utcnow
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.etat_pieces import PayableLine
from chorus_chain.operations import marches as marche_ops
from tests.integration.db_counts import changed, row_counts
from tests.integration.decompte_general_world import days, establish_dg, establish_pdg, final_etat
from tests.integration.pieces_world import logged_in, rows, world


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).replace("\u202f", " ") \
        .replace("\xa0", " ")


def test_pdg_dg_signature_with_reservations_and_payment_through_the_pages(app, db):
    w = world(app)
    etat_id = final_etat(app, w)
    moe = logged_in(app, w.moe)
    moe_page = f"/s/{w.moe.siret}/marches/{w.marche_id}/etats/{etat_id}"
    # The marché's états: the final one says where the décompte général stands and opens it.
    listing = _text(moe.get(f"/s/{w.moe.siret}/marches/{w.marche_id}/etats/"))
    assert "le maître d'œuvre établit le projet de décompte général" in listing.replace("&#39;", "'")
    assert "Établir le projet de décompte général…" in listing
    shown = _text(moe.get(moe_page))
    assert "Établir le projet de décompte général (solde 57 000,00 €)" in shown
    assert 'data-confirm="Le projet de décompte général (A17)' in moe.get(moe_page).get_data(as_text=True)
    assert moe.post(f"{moe_page}/decompte-general/projet").status_code in (302, 303)
    assert "Établir le projet de décompte général" not in _text(moe.get(moe_page))

    # The MOA's Synthèse: the PDG to turn into a DG, opening the final état's page.
    moa = logged_in(app, w.moa)
    synthese = _text(moa.get(f"/s/{w.moa.siret}/synthese"))
    assert "Décompte général (état final n° 2) : solde 57 000,00 €" in synthese
    assert "Établir le décompte général…" in synthese
    moa_page = f"/s/{w.moa.siret}/marches/{w.marche_id}/etats/{etat_id}"
    assert "Établir le décompte général et le notifier au titulaire" in _text(moa.get(moa_page))
    assert moa.post(f"{moa_page}/decompte-general/notifier").status_code in (302, 303)

    # The titulaire's Synthèse: the DG to sign, with its countdown (30 days from now).
    durand = logged_in(app, w.mandataire)
    synthese = _text(durand.get(f"/s/{w.mandataire.siret}/synthese"))
    assert "Signer le décompte général…" in synthese
    assert "acceptation tacite du décompte général dans 30 jours" in synthese
    page = f"/s/{w.mandataire.siret}/marches/{w.marche_id}/etats/{etat_id}"
    shown = _text(durand.get(page))
    assert "Signer le décompte général" in shown and "(acceptation tacite du décompte général dans 30 jours)" in shown
    # The A20's own page offers no signature of its own: it opens the décompte général's page.
    [row] = rows(app, DecompteGeneral, DecompteGeneral.etat_acompte_id == etat_id)
    piece_page = _text(durand.get(f"/s/{w.mandataire.siret}/pieces/{row.dg_piece_id}"))
    assert "Ouvrir le décompte général" in piece_page and "Confirmer : signer" not in piece_page

    # Reservations without a text: a French message, nothing stored.
    before = row_counts(app)
    refused = durand.post(f"{page}/decompte-general/signer", data={"signature": "avec_reserves", "reservations": "",
                                                                   "claimed_amount": "12000"})
    assert refused.status_code == 422 and "Exposez vos réserves" in _text(refused)
    assert changed(before, row_counts(app)) == {}

    signed = durand.post(f"{page}/decompte-general/signer", data={
        "signature": "avec_reserves", "claimed_amount": "12 000,00",
        "reservations": "Pénalités de retard contestées : l'ordre de service n° 7 a prolongé le délai."})
    assert signed.status_code in (302, 303), _text(signed)[-800:]
    shown = _text(durand.get(page))
    assert "Signé avec réserves" in shown and "montant en litige : 12 000,00 €" in shown
    assert "Signer le décompte général" not in shown.split("Décompte général", 2)[-1][:200]

    # The MOA reads the dispute too; the paying office (the MOA's structure here) finds the DGD in its Synthèse and
    # pays the solde's line.
    assert "Payer le solde du décompte général…" in _text(moa.get(f"/s/{w.moa.siret}/synthese"))
    shown = _text(moa.get(moa_page))
    assert "montant en litige : 12 000,00 €" in shown and "Lignes à payer" in shown
    [line] = rows(app, PayableLine, PayableLine.etat_acompte_id == etat_id)
    today = marche_ops.today(utcnow()).isoformat()
    for step, extra in (("service_fait", {}), ("mandat", {}), ("paiement", {"amount": "57 000,00"})):
        answer = moa.post(f"/s/{w.moa.siret}/marches/{w.marche_id}/etats/{etat_id}/lignes-a-payer/{line.id}",
                          data={"step": step, "day": today, **extra})
        assert answer.status_code in (302, 303), _text(answer)[-600:]
    shown = _text(durand.get(page))
    assert "payée" in shown and "montant en litige : 12 000,00 €" in shown
    [row] = rows(app, DecompteGeneral, DecompteGeneral.etat_acompte_id == etat_id)
    assert row.dispute_status == "open"

    # A co-traitant reads where the DG stands, not the mémoire nor the holder's line.
    martin = logged_in(app, w.cotraitant)
    shown = _text(martin.get(f"/s/{w.cotraitant.siret}/marches/{w.marche_id}/etats/{etat_id}"))
    assert "Le décompte général est signé" in shown
    assert "litige" not in shown and "Pénalités de retard contestées" not in shown
    assert "Aucune ligne ne vous est payée sur cet état" in shown


def test_signing_after_the_deadline_is_refused_with_what_the_law_says(app, db):
    w = world(app)
    etat_id = final_etat(app, w)
    establish_pdg(app, w, etat_id, days(1))
    establish_dg(app, w, etat_id, days(2))  # notified on 4 March 2026: due 3 April 2026
    durand = logged_in(app, w.mandataire)
    page = f"/s/{w.mandataire.siret}/marches/{w.marche_id}/etats/{etat_id}"
    shown = _text(durand.get(page))
    assert "Le délai de signature est dépassé" in shown and 'data-testid="sign-dg"' not in shown
    before = row_counts(app)
    late = durand.post(f"{page}/decompte-general/signer", data={"signature": "sans_reserve"})
    assert late.status_code == 422
    message = _text(late)
    assert "article 12.4 du CCAG Travaux 2021" in message and "réputé l&#39;avoir accepté" in message, \
        message[message.find("message-error") - 50:][:900]
    assert changed(before, row_counts(app)) == {}


def test_the_tacit_procedure_replaces_the_pdg_and_is_linked_from_the_decompte_general(app, db):
    """The MOA stays silent on the MOE's PDG: the titulaire deposits its own PDG (A22) and replaces the pending A17
    with it; the MOA can no longer establish a DG from the A17, and the décompte général's page links the A22; ten
    days later the sweep makes it the tacit DGD and the titulaire deposits the A23, linked there too."""
    from datetime import timedelta

    from chorus_chain.jobs.clock import tick
    from chorus_chain.models import Deadline
    from tests.integration.pieces_world import act, deposit, status_of

    w = world(app)
    etat_id = final_etat(app, w)
    establish_pdg(app, w, etat_id, days(1))
    [row] = rows(app, DecompteGeneral, DecompteGeneral.etat_acompte_id == etat_id)
    a22 = deposit(app, w, w.mandataire, "A22", "PDG-T-1", ht="150000.00")
    assert act(app, w.mandataire, row.pdg_piece_id, "replace_by_a22") == "REMPLACEE_PAR_A22"
    moa = logged_in(app, w.moa)
    moa_page = f"/s/{w.moa.siret}/marches/{w.marche_id}/etats/{etat_id}"
    shown = _text(moa.get(moa_page))
    assert "Le titulaire a engagé la procédure tacite" in shown and "PDG-T-1" in shown
    assert "Établir le décompte général et le notifier" not in shown
    before = row_counts(app)
    refused = moa.post(f"{moa_page}/decompte-general/notifier")
    assert refused.status_code == 422 and "procédure tacite" in _text(refused)
    assert changed(before, row_counts(app)) == {}

    [clock] = rows(app, Deadline, Deadline.piece_id == a22, Deadline.kind == "tacit_dgd")
    with app.test_request_context():
        tick(clock.due_at + timedelta(hours=1))
    assert status_of(app, a22) == "ASSOCIEE"
    a23 = deposit(app, w, w.mandataire, "A23", "DGD-T-1", ht="150000.00", previous_piece_id=str(a22))
    assert status_of(app, a23) == "MISE_A_DISPOSITION"
    durand = logged_in(app, w.mandataire)
    shown = _text(durand.get(f"/s/{w.mandataire.siret}/marches/{w.marche_id}/etats/{etat_id}"))
    assert "PDG-T-1" in shown and "DGD-T-1" in shown
    assert "Ouvrir le décompte général" in _text(durand.get(f"/s/{w.mandataire.siret}/pieces/{a23}"))


def test_the_signature_form_refuses_hostile_input_and_stores_nothing(app, db):
    w = world(app)
    etat_id = final_etat(app, w)
    moe = logged_in(app, w.moe)
    assert moe.post(f"/s/{w.moe.siret}/marches/{w.marche_id}/etats/{etat_id}/decompte-general/projet").status_code \
        in (302, 303)
    moa = logged_in(app, w.moa)
    assert moa.post(f"/s/{w.moa.siret}/marches/{w.marche_id}/etats/{etat_id}/decompte-general/notifier").status_code \
        in (302, 303)
    durand = logged_in(app, w.mandataire)
    url = f"/s/{w.mandataire.siret}/marches/{w.marche_id}/etats/{etat_id}/decompte-general/signer"
    others = [(who, logged_in(app, who)) for who in (w.moe, w.cotraitant)]  # logged in first: a login is a row
    before = row_counts(app)
    for data in ({},  # no choice made
                 {"signature": "peut-etre"},
                 {"signature": "avec_reserves", "reservations": "Motif\x00caché", "claimed_amount": "10"},
                 {"signature": "avec_reserves", "reservations": "Motif \u202e inversé", "claimed_amount": "10"},
                 {"signature": "avec_reserves", "reservations": "Motif", "claimed_amount": "9" * 40},
                 {"signature": "avec_reserves", "reservations": "Motif", "claimed_amount": "-5"},
                 {"signature": "avec_reserves", "reservations": "x" * 10000, "claimed_amount": "10"}):
        answer = durand.post(url, data=data)
        assert answer.status_code in (400, 422), (data, answer.status_code)
    assert changed(before, row_counts(app)) == {}
    # The MOE and a co-traitant may not sign.
    for who, client in others:
        answer = client.post(f"/s/{who.siret}/marches/{w.marche_id}/etats/{etat_id}/decompte-general/signer",
                             data={"signature": "sans_reserve"})
        assert answer.status_code == 422 and "Seul le titulaire" in _text(answer)
    assert changed(before, row_counts(app)) == {}
