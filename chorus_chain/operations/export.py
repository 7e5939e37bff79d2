"""The marché export, format `chorus-chain/marche-export/v2` (docs/contracts/marche-export.md).

Everything comes from the database and the same chain the pages use; nothing is recomputed differently here.
Amounts are strings with two decimals, dates YYYY-MM-DD, instants ISO-8601 with offset, unknown values null.

`pieces` lists the deposited pieces of the marché that the reader sees (drafts are not sent: they stay out), with
their clocks and hash-chained events. The export is for the structures that see the whole chain (MOA, MOE, holder:
the callers check it), but seeing the chain is not seeing every piece: a private invoice of a rang-2 sous-traitant
to its rang-1 reaches neither the MOA nor the MOE. So the pieces are read through the one access predicate
(`access.visible_to`) for the reader, under its tenant, never across tenants; a `previous` piece the reader does not
see is not named (null). Only an operator's command line (`flask marche export`) reads every piece, under an
explicit `system_access`. `decompte` of a PDM is
the issued état d'acompte's figures for that piece's beneficiary, the same lines as the screen
(`operations.etats_acompte.piece_decompte`); null until an état that includes it is issued.

v2 adds the états as documents (`operations.export_etats`): each issued état with its pieces (A15, A19, A17, A20,
A8) and its projets de décompte, its payable lines with their payments and interest, the DGD reconciliation, and on
each piece the états it is linked to — named only when the reader sees the piece.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from chorus_chain import graph
from chorus_chain.access import is_system, visible_to
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Deadline, Marche, Piece, PieceEvent, Structure
from chorus_chain.operations import avenants as avenant_ops
from chorus_chain.operations import chain as chain_ops
from chorus_chain.operations import etats_acompte as etats_ops
from chorus_chain.operations import export_etats
from chorus_chain.operations import money_clauses

FORMAT = "chorus-chain/marche-export/v2"


def _amount(value: Decimal | None, places: int = 2) -> str | None:
    if value is None:
        return None
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def marche_export(marche: Marche, now: datetime, reader_id: int | None) -> dict[str, Any]:
    """The export of a marché as `reader_id` (a structure) sees its pieces; None only under `system_access` (the
    operator's command line)."""
    rows = chain_ops.rows_of(marche)
    chain = chain_ops.chain_of(marche, rows)
    by_id = {row.id: row for row in rows}
    avenants = avenant_ops.avenants_of(marche)
    parties = []
    for key in sorted(chain.parties):
        row, party = by_id[key], chain.party(key)
        parent = graph.parent(chain, key)
        parties.append({
            "siret": row.siret,
            "name": row.name,
            "role": row.role,
            "parent_siret": parent.siret if parent else None,
            "rang": graph.rang(chain, key),
            "montant_ttc": _amount(party.montant_ttc),
            "paiement_direct": graph.paiement_direct(chain, key),
            "autoliquidation": graph.autoliquidation(chain, key),
            "accepted_on": _day(row.accepted_on) if row.role == Role.SOUS_TRAITANT else None,
            # issue 16: the DC4 ceiling covers the revision (true) or base prices only (false); null: no DC4
            "dc4_ceiling_includes_revision": row.dc4_ceiling_includes_revision
            if row.role == Role.SOUS_TRAITANT else None,
            "avance_declined": bool(row.avance_declined),
        })
    return {
        "format": FORMAT,
        "exported_at": now.isoformat(),
        "marche": {
            "reference": marche.reference,
            "objet": marche.objet,
            "kind": marche.kind,
            "montant_ht": _amount(marche.montant_ht),
            "tva_rate": _amount(marche.tva_rate),
            "groupement": marche.groupement,
            "dgp_days": marche.dgp_days,
            "buyer_category": marche.buyer_category,
            # issue 16: the amount as signed, and each modification (avenant) since
            "montant_initial_ht": _amount(avenant_ops.initial_amount_ht(marche, avenants)),
            "avenants": [{
                "number": a.number,
                "signed_on": _day(a.signed_on),
                "amount_ht": _amount(a.amount_ht),
                "party_siret": by_id[a.party_id].siret if a.party_id in by_id else None,
                "objet": a.objet,
                "lines": a.lines,
                "montant_after_ht": _amount(a.montant_after_ht),
                "dc4_modified": a.dc4_avenant_id is not None,
            } for a in avenants],
            "moe_days": marche.moe_days,
            "retenue_rate": _amount(marche.retenue_rate),
            "avance_rate": _amount(marche.avance_rate),
            "avance_repayment": {
                "basis": marche.avance_repayment_basis,
                "start": _amount(marche.avance_repayment_start),
                "end": _amount(marche.avance_repayment_end),
                "fixed_amounts": [{"siret": by_id[f.party_id].siret, "month": f.month, "amount": _amount(f.amount)}
                                  for f in money_clauses.fixed_rows(marche)],
            },
            "retenue_guarantees": [{"siret": by_id[g.party_id].siret, "kind": g.kind, "given_on": _day(g.given_on),
                                    "amount": _amount(g.amount)} for g in money_clauses.guarantee_rows(marche)],
            "revision": {
                "a": _amount(marche.revision_a, 4),
                "index": marche.revision_index,
                "base_month": marche.revision_base_month,
            } if marche.has_revision else None,
        },
        "parties": parties,
        "routes": routes(chain),
        **pieces_and_etats(marche, rows, reader_id),
        "dgd": export_etats.dgd(marche, rows, reader_id),
    }


def pieces_and_etats(marche: Marche, rows, reader_id: int | None) -> dict[str, Any]:
    """`pieces` (each with the états it is linked to) and `etats`, named through the same visible pieces."""
    listed = pieces_with_ids(marche, reader_id)
    etats, links = export_etats.etats(marche, rows, reader_id, {piece_id: item["number"]
                                                               for piece_id, item in listed})
    for piece_id, item in listed:
        item["etats"] = links.get(piece_id, [])
    return {"pieces": [item for _, item in listed], "etats": etats}


def routes(chain: graph.Chain) -> list[dict[str, Any]]:
    """One entry per (party, cadre it may deposit), plus the private route of each sous-traitant without paiement
    direct. A route that needs a party the marché does not have yet (an incomplete marché) is left out."""
    entries = []
    for key in sorted(chain.parties):
        for cadre in chain_ops.deposit_cadres(chain, key):
            try:
                steps = graph.route(chain, key, cadre)
            except graph.IncompleteChainError:
                continue
            entries.append({
                "siret": chain.party(key).siret,
                "cadre": cadre,
                "steps": [{"siret": s.siret, "role": s.role, "step": s.step} for s in steps],
            })
    return entries


def pieces(marche: Marche, reader_id: int | None) -> list[dict[str, Any]]:
    return [item for _, item in pieces_with_ids(marche, reader_id)]


def pieces_with_ids(marche: Marche, reader_id: int | None) -> list[tuple[int, dict[str, Any]]]:
    """The deposited pieces of the marché that `reader_id` sees, in deposit order, each with its clocks and events:
    five queries. `reader_id` None reads every piece and is only allowed under `system_access` (a command line)."""
    conditions = [Piece.marche_id == marche.id, Piece.status != "BROUILLON"]
    if reader_id is not None:
        conditions.append(visible_to(reader_id))
    elif not is_system():
        raise PermissionError("an export for no reader needs system_access (an operator's command line)")
    rows = db.session.execute(
        select(Piece, Structure.siret)
        .join(Structure, Structure.id == Piece.emitter_structure_id)
        .where(*conditions)
        .order_by(Piece.deposited_at, Piece.id)).all()
    ids = [piece.id for piece, _ in rows]
    # The previous piece of a dossier is named only when the reader sees it too (the same predicate).
    previous_ids = {piece.previous_piece_id for piece, _ in rows if piece.previous_piece_id}
    previous_numbers: dict[int, str] = {}
    if previous_ids:
        previous_conditions = [Piece.id.in_(previous_ids)]
        if reader_id is not None:
            previous_conditions.append(visible_to(reader_id))
        previous_numbers = dict(db.session.execute(select(Piece.id, Piece.number).where(*previous_conditions)).all())
    deadlines: dict[int, list[Deadline]] = {}
    events: dict[int, list[PieceEvent]] = {}
    if ids:
        for deadline in db.session.scalars(select(Deadline).where(Deadline.piece_id.in_(ids))
                                           .order_by(Deadline.created_at, Deadline.id)):
            deadlines.setdefault(deadline.piece_id, []).append(deadline)
        for event in db.session.scalars(select(PieceEvent).where(PieceEvent.piece_id.in_(ids))
                                        .order_by(PieceEvent.piece_id, PieceEvent.seq)):
            events.setdefault(event.piece_id, []).append(event)
    decomptes = etats_ops.piece_decomptes(marche, ids)
    return [(piece.id, {
        "number": piece.number,
        "cadre": piece.cadre,
        "emitter_siret": siret,
        "type": piece.piece_type,
        "status": piece.status,
        "montant_ht": _amount(piece.montant_ht),
        "montant_tva": _amount(piece.montant_tva),
        "montant_ttc": _amount(piece.montant_ttc),
        "deposited_at": _instant(piece.deposited_at),
        "previous": previous_numbers.get(piece.previous_piece_id),
        "dossier": piece.dossier_number,
        "deadlines": [{"kind": d.kind, "due_at": _instant(d.due_at), "done_at": _instant(d.done_at)}
                      for d in deadlines.get(piece.id, [])],
        "events": [{"at": _instant(e.at), "actor_siret": e.actor_siret, "actor": e.actor, "action": e.action,
                    "from": e.from_status, "to": e.to_status, "reason": e.reason, "hash": e.hash}
                   for e in events.get(piece.id, [])],
        "decompte": decomptes.get(piece.id),
    }) for piece, siret in rows]
