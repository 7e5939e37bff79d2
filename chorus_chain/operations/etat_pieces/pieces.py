"""The pieces of the état d'acompte: the A15 deposited when the MOE issues an état, the A19 the MOA's validation
deposits for the paying office, and the platform's moves of the projets de décompte (PDM) they carry.

These pieces are deposited by the platform on the user's behalf, from figures the engine froze (`EtatAcompte.result`):
no form, no amount typed. They go through the same records as any piece (events hash-chained, access rows from the
chain graph, clocks), so the history, the audit and the access predicate treat them like the others.

Why the A15 has no stored main file: the état's PDF is rendered off the request path by the documents job from the
frozen result (`operations.documents`, kind "etat"); the A15 page links to it as its main document. Its deposit
event covers the état's result by its fingerprint, so the audit proves the figures did not move.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from chorus_chain import graph
from chorus_chain.domain import amount_why, numbering, statuses
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Account, Marche, MarcheParty, Piece, Structure
from chorus_chain.models.etat_pieces import EtatAcomptePdm
from chorus_chain.models.money import Decompte, EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations import pieces_drafts as drafts
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.marches import today

ZERO = Decimal("0.00")


def result_fingerprint(result: Mapping[str, Any]) -> str:
    """SHA-256 of the frozen result as canonical JSON: what the A15's deposit event covers."""
    return hashlib.sha256(json.dumps(result, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def etat_number(etat: EtatAcompte, prefix: str) -> str:
    """The piece number of an état's A15 ("EA") or A19 ("EAV"): unique per depositor across its marchés, at most 20
    characters: "EA-M12-004", "EA-M12-004-BIS"."""
    from chorus_chain.models.money import ETAT_SUFFIXES

    number = f"{prefix}-M{etat.marche_id}-{etat.number:03d}"
    if etat.suffix:
        number += "-" + ETAT_SUFFIXES[etat.suffix][:6].upper()
    return number


def amounts_of(result: Mapping[str, Any]) -> tuple[Decimal, Decimal, Decimal, Decimal | None]:
    """HT, VAT, TTC of this acompte and the amount payable (the engine's; a negative figure — a trop-perçu — is
    carried by its lines, the piece shows 0)."""
    marche = result["marche"]
    ttc = Decimal(marche["ttc"]["this"])
    vat = Decimal(marche["vat"]["this"])
    due = Decimal(marche["amount_due"]["this"])
    ht = ttc - vat
    return max(ht, ZERO), max(vat, ZERO), max(ttc, ZERO), due if due > 0 else None


def party_row(marche: Marche, role: str) -> MarcheParty:
    row = db.session.scalar(select(MarcheParty).where(MarcheParty.marche_id == marche.id, MarcheParty.role == role,
                                                      MarcheParty.status == "confirmed").order_by(MarcheParty.id))
    if row is None or row.structure_id is None:
        raise OperationError("La chaîne du marché est incomplète (maître d'ouvrage, maître d'œuvre ou service "
                             "financier manquant) : l'état d'acompte ne peut pas circuler.")
    return row


def deposit_system_piece(marche: Marche, party: MarcheParty, cadre: str, number: str, *, result: Mapping[str, Any],
                         account: Account, structure: Structure, now: datetime,
                         previous_piece_id: int | None = None, extra: Mapping[str, Any] | None = None,
                         recipient: MarcheParty | None = None) -> Piece:
    """Deposit a piece of `cadre` in the name of `party` (the MOE's A15 and A17, the MOA's A19 and A20, the holder's
    A8) with the état's figures, its route frozen from the chain graph and its access rows, and tell whoever acts
    next. `recipient`: whom the piece is addressed to when it is not the route's last step (the MOA's décompte
    général goes to the titulaire, who signs it off the route)."""
    rows = chain_ops.rows_of(marche)
    chain = chain_ops.chain_of(marche, rows)
    rows_by_id = {row.id: row for row in rows}
    steps = graph.route(chain, party.id, cadre)
    recipient = recipient or rows_by_id[steps[-1].party_key]
    service_code = recipient.service_code or (
        marche.paying_service_code if recipient.role == Role.PAYING_OFFICE
        else marche.moa_service_code if recipient.role == Role.MOA else None)
    ht, vat, ttc, due = amounts_of(result)
    piece = Piece(marche_id=marche.id, emitter_party_id=party.id, emitter_structure_id=party.structure_id,
                  cadre=cadre, works=True, piece_type="FACTURE", number=number,
                  number_key=numbering.number_key(number), status=statuses.INITIAL_STATUS.value,
                  montant_ht=ht, montant_tva=vat, montant_ttc=ttc, vat_regime="normal", accepted_amount=due,
                  issue_date=today(now), recipient_siret=recipient.siret, service_code=service_code or None,
                  engagement_number=marche.engagement_number or None, payment_mode="virement",
                  previous_piece_id=previous_piece_id, created_by_id=account.id, created_at=now, updated_at=now)
    etat_facts = (extra or {}).get("etat")
    if due is not None and due != ttc and etat_facts:
        # Why it pays less (or more) than its TTC: the marché's column of the état (retenue, advance, penalties).
        piece.accepted_why = amount_why.etat_record(
            etat_id=etat_facts["id"], marche_id=marche.id, label=etat_facts["number"],
            month=etat_facts.get("month"), final=bool(etat_facts.get("final")), columns=result["marche"])
    db.session.add(piece)
    db.session.flush()
    records.record_event(piece, action=T.Action.CREATE, actor_step=T.EMITTER, from_status=None,
                         to_status=statuses.INITIAL_STATUS, account=account, structure=structure, now=now)
    route = [{"party_id": step.party_key, "structure_id": rows_by_id[step.party_key].structure_id,
              "siret": step.siret, "role": step.role, "step": step.step} for step in steps]
    transitions = T.perform(piece.status, T.Action.DEPOSIT, T.EMITTER, tuple(s["step"] for s in route), cadre=cadre)
    piece.route = route
    piece.deposited_at = now
    previous = db.session.get(Piece, previous_piece_id) if previous_piece_id else None
    piece.dossier_number = (previous.dossier_number if previous is not None and previous.dossier_number
                            else numbering.format_dossier_number(today(now).year, piece.id))
    holder = records.holder_structure_id(marche.id)
    records.write_access(piece, records.grants(chain, party.id, cadre, route, holder), now)
    facts = {**drafts.deposit_facts(piece), "etat_result_sha256": result_fingerprint(result), **(extra or {})}
    for index, transition in enumerate(transitions):
        records.record_transition(piece, transition, account=account, structure=structure, now=now,
                                  extra=facts if index == 0 else None)
        piece.status = transition.to_status.value
        records.apply_clock_changes(piece, transition, now)
    records.flush_piece()
    records.announce(piece, transitions, account=account, structure=structure, now=now)
    db.session.flush()
    return piece


def move(piece: Piece, actions: Iterable[str], actor_step: str, *, account: Account | None,
         structure: Structure | None, now: datetime, reason: str | None = None, comment: str | None = None,
         amount: Decimal | None = None, paid_on=None, extra: Mapping[str, Any] | None = None,
         announce: bool = True) -> list[T.Transition]:
    """Apply `actions` in turn to a locked piece as `actor_step` (the transition table decides; the platform's
    automatic moves follow), recording one event per transition."""
    done: list[T.Transition] = []
    for action in actions:
        inputs: dict[str, Any] = {"cadre": piece.cadre}
        if T.REASON_POLICY.get(action):
            inputs["reason"] = reason
            inputs["comment"] = comment
        if action in T.AMOUNT_POLICY:
            inputs["amount"] = amount
        if action in T.PAID_ON_REQUIRED:
            inputs["paid_on"] = paid_on
        try:
            transitions = T.perform(piece.status, action, actor_step, piece.route_steps, **inputs)
        except T.TransitionRefused as error:
            raise OperationError(error.message_fr, field=error.field) from None
        if action == T.Action.MARK_PAID:
            piece.paid_on, piece.paid_amount = transitions[0].paid_on, transitions[0].amount
        for index, transition in enumerate(transitions):
            records.record_transition(piece, transition, account=account, structure=structure, now=now,
                                      extra=extra if index == 0 else None)
            piece.status = transition.to_status.value
            records.apply_clock_changes(piece, transition, now)
        done += transitions
    piece.updated_at = now
    records.flush_piece()
    if announce and done:
        records.announce(piece, done, account=account, structure=structure, now=now)
    return done


def deposit_a15(marche: Marche, etat: EtatAcompte, pdms: Iterable[tuple[Piece, int | None]], *, account: Account,
                structure: Structure, now: datetime) -> Piece:
    """Issuing état n° k deposits its A15: addressed to the MOA with the marché's routing data, linked to every
    projet de décompte it covers (`pdms`: (piece, payee party id)). Called by `etats_acompte.issue` once the
    result is frozen."""
    moe = party_row(marche, Role.MOE)
    label = etat.label
    piece = deposit_system_piece(
        marche, moe, "A15", etat_number(etat, "EA"), result=etat.result, account=account, structure=structure,
        now=now, extra={"etat": {"id": etat.id, "number": label, "month": etat.month}})
    etat.piece_id = piece.id
    from chorus_chain.operations.etat_pieces import pdf

    pdf.queue_a15_pdf(etat)  # its main file: the état's PDF, rendered by the documents worker
    link_pdms(etat, pdms, now=now)
    return piece


def link_pdms(etat: EtatAcompte, pdms: Iterable[tuple[Piece, int | None]], *, now: datetime) -> None:
    """Record every projet de décompte the issued état covers, with the payee whose line pays it."""
    for pdm, payee in pdms:
        db.session.add(EtatAcomptePdm(etat_acompte_id=etat.id, piece_id=pdm.id, payee_party_id=payee,
                                      created_at=now))
    db.session.flush()


def deposit_a19(marche: Marche, etat: EtatAcompte, *, account: Account, structure: Structure,
                now: datetime) -> Piece:
    """The MOA's validation deposits the A19 (état d'acompte validé) for the paying office, in the A15's dossier."""
    moa = party_row(marche, Role.MOA)
    piece = deposit_system_piece(
        marche, moa, "A19", etat_number(etat, "EAV"), result=etat.result, account=account, structure=structure,
        now=now, previous_piece_id=etat.piece_id,
        extra={"etat": {"id": etat.id, "number": etat.label, "month": etat.month}})
    etat.validated_piece_id = piece.id
    return piece


def linked_pdms(etat: EtatAcompte, *, lock: bool = False) -> list[tuple[Piece, EtatAcomptePdm]]:
    """The projets de décompte the état carries (link rows), pieces locked when asked, in a stable order."""
    rows = db.session.execute(
        select(Piece.id, EtatAcomptePdm).join(EtatAcomptePdm, EtatAcomptePdm.piece_id == Piece.id)
        .where(EtatAcomptePdm.etat_acompte_id == etat.id).order_by(Piece.id)).all()
    found = []
    for piece_id, link in rows:
        piece = records.load_for_update(piece_id) if lock else db.session.get(Piece, piece_id)
        found.append((piece, link))
    return found


def decomptes_of(etat: EtatAcompte) -> list[Decompte]:
    return list(db.session.scalars(select(Decompte).where(Decompte.etat_acompte_id == etat.id)
                                   .order_by(Decompte.id)))
