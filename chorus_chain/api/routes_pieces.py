"""Pieces: search (the dashboard's filters, cursor pagination), read with history and deadlines, create a draft,
attach files, the pre-flight check, send, act with the `statut_attendu` guard. Each route calls the operation the
portal's page calls (`operations.pieces`), as the client's structure."""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, time, timezone

from flask import g
from sqlalchemy import select

from chorus_chain.access import visible_to
from chorus_chain.api import links
from chorus_chain.api import schemas as S
from chorus_chain.api.core import idempotent, api_blueprint, etagged, has_right, now
from chorus_chain.api.problems import problem
from chorus_chain.domain import statuses
from chorus_chain.extensions import db
from chorus_chain.models import Deadline, Marche, Piece, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces as ops
from chorus_chain.operations.deposits import DepositContext
from chorus_chain.operations.deposits import batch as batch_ops
from chorus_chain.operations.pieces_queries import box_condition

bp = api_blueprint("api_pieces", "/pieces", "Pièces : recherche, lecture, brouillon, envoi, actions.")



# ---------------------------------------------------------------------------------------------------------------------
# Rendering


def deadline_out(d: Deadline | None) -> dict | None:
    return None if d is None else {"nature": d.kind, "echeance": d.due_at, "close_le": d.done_at}


def piece_out(piece: Piece, marche_reference: str, emitter: Structure, next_deadline: Deadline | None) -> dict:
    return {"id": piece.id, "numero": piece.number, "type_piece": piece.piece_type, "statut": piece.status,
            "statut_libelle": statuses.label(piece.status), "cadre": piece.cadre, "travaux": piece.works,
            "marche_id": piece.marche_id, "marche_reference": marche_reference, "emetteur_siret": emitter.siret,
            "emetteur_nom": emitter.name, "montant_ht": piece.montant_ht, "montant_tva": piece.montant_tva,
            "montant_ttc": piece.montant_ttc, "montant_accepte": piece.accepted_amount,
            "montant_paye": piece.paid_amount, "date_emission": piece.issue_date, "date_paiement": piece.paid_on,
            "siret_destinataire": piece.recipient_siret, "code_service": piece.service_code,
            "numero_engagement": piece.engagement_number, "dossier": piece.dossier_number,
            "depose_le": piece.deposited_at, "prochaine_echeance": deadline_out(next_deadline)}


def piece_detail(piece: Piece) -> dict:
    events = ops.events_of(piece.id)
    deadlines = db.session.scalars(select(Deadline).where(Deadline.piece_id == piece.id)
                                   .order_by(Deadline.due_at, Deadline.id)).all()
    open_ = [d for d in deadlines if d.done_at is None]
    may_act = has_right(ops.rights_domain(piece, g.structure.id), "modification")
    body = piece_out(piece, piece.marche.reference, piece.emitter_structure, open_[0] if open_ else None)
    body.update({
        "historique": [{"le": e.at, "action": e.action, "de": e.from_status, "vers": e.to_status,
                        "par_siret": e.actor_siret, "etape": e.actor_step, "motif": e.reason,
                        "commentaire": e.comment, "montant": e.amount} for e in events],
        "echeances": [deadline_out(d) for d in deadlines],
        "fichiers": [{"id": f.id, "role": f.role, "nom": f.name, "taille": f.size, "sha256": f.sha256}
                     for f in piece.files],
        "actions_possibles": [{"action": a.action, "libelle": a.label, "motif": a.reason,
                               "motifs": [list(r) for r in a.reasons], "montant": a.amount,
                               "date_paiement": a.paid_on, "fichiers": a.files}
                              for a in (ops.allowed_actions_for(piece, g.structure) if may_act else [])],
    })
    return body


# ---------------------------------------------------------------------------------------------------------------------
# Search


def _works_scope(box: str) -> bool | None | str:
    """Which pieces the client's rights let it list in a box (the dashboard's rule): True works only, False the
    others only, None both, "none" nothing at all."""
    other = "emises" if box == "emises" else "recues"
    works, others = has_right("travaux", "consultation"), has_right(other, "consultation")
    if box == "a_traiter":
        others = others or has_right("emises", "consultation")
    if works and others:
        return None
    if works:
        return True
    return False if others else "none"


def _encode_cursor(piece_id: int) -> str:
    """The next page starts below this id (the list runs newest first, by id): stable while pieces are added."""
    return str(piece_id)


@bp.get("")
@bp.arguments(S.PieceQuery, location="query")
@bp.response(200, S.PieceList)
@bp.problems(401, 403, 422, 429)
def search(query):
    """Les pièces d'une boîte (émises, reçues, à traiter) avec les filtres du tableau de bord, les plus récentes
    d'abord, par pages : `curseur_suivant` donne la page suivante."""
    scope = _works_scope(query["boite"])
    if scope == "none":
        return problem(403)
    after = min(int(query["curseur"]), 2**31 - 1) if query["curseur"] else None  # no id lies beyond
    structure = g.structure
    conditions = [box_condition(structure.id, query["boite"]), visible_to(structure.id)]
    if scope is not None:
        conditions.append(Piece.works.is_(scope))
    if after is not None:
        conditions.append(Piece.id < after)
    if query["statut"]:
        conditions.append(Piece.status.in_(query["statut"]))
    if query["marche_id"] is not None:
        conditions.append(Piece.marche_id == query["marche_id"])
    if query["cadre"] is not None:
        conditions.append(Piece.cadre.is_(None) if query["cadre"] == "" else Piece.cadre == query["cadre"])
    if query["numero"]:
        conditions.append(Piece.number_key.contains(query["numero"].strip().upper(), autoescape=True))
    if query["depose_depuis"]:
        conditions.append(Piece.deposited_at >= datetime.combine(query["depose_depuis"], time(), timezone.utc))
    if query["depose_avant"]:
        conditions.append(Piece.deposited_at < datetime.combine(query["depose_avant"], time(), timezone.utc))
    limit = query["limite"]
    rows = db.session.execute(
        select(Piece, Marche.reference, Structure).join(Marche, Marche.id == Piece.marche_id)
        .join(Structure, Structure.id == Piece.emitter_structure_id)
        .where(*conditions).order_by(Piece.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [row[0].id for row in rows]
    next_clock: dict[int, Deadline] = {}
    if ids:
        for d in db.session.scalars(select(Deadline).where(Deadline.piece_id.in_(ids), Deadline.done_at.is_(None))
                                    .order_by(Deadline.due_at)):
            next_clock.setdefault(d.piece_id, d)
    return {"items": [piece_out(p, ref, emitter, next_clock.get(p.id)) for p, ref, emitter in rows],
            "curseur_suivant": _encode_cursor(rows[-1][0].id) if more else None}


# ---------------------------------------------------------------------------------------------------------------------
# One piece


def _visible(piece_id: int, level: str) -> Piece | tuple:
    piece = ops.piece_for(g.structure, piece_id) if 0 < piece_id < 2**31 else None
    if piece is None:
        return problem(404)
    if not has_right(ops.rights_domain(piece, g.structure.id), level):
        return problem(403)
    return piece


@bp.get("/<int:piece_id>")
@bp.response(200, S.PieceDetail, headers={"ETag": {"schema": {"type": "string"}}})
@bp.alt_response(304, description="Inchangée depuis l'ETag envoyé (If-None-Match).")
@bp.problems(401, 403, 404, 429)
def read(piece_id: int):
    """Une pièce : ses montants, son statut, son historique, ses échéances, ses fichiers et les actions que la
    structure peut y faire maintenant."""
    piece = _visible(piece_id, "consultation")
    if not isinstance(piece, Piece):
        return piece
    return etagged(S.PieceDetail(), piece_detail(piece))


def upload(item: dict) -> ops.UploadedFile:
    try:
        content = base64.b64decode(item["contenu_base64"].encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise OperationError("Le contenu du fichier n'est pas du base64 valide.", field="fichiers") from None
    return ops.UploadedFile(item["nom"], content)


def draft_raw(body: dict) -> dict:
    """The API's body → the fields `create_draft` takes (the portal form's names)."""
    def text(value):
        return "" if value is None else value

    return {"party_id": body.get("partie_id"), "cadre": body.get("cadre"), "piece_type": body.get("type_piece"),
            "number": body.get("numero"), "issue_date": body.get("date_emission"),
            "montant_ht": body.get("montant_ht"), "montant_tva": body.get("montant_tva"),
            "montant_ttc": body.get("montant_ttc"), "vat_regime": body.get("regime_tva") or "",
            "recipient_siret": text(body.get("siret_destinataire")), "service_code": text(body.get("code_service")),
            "engagement_number": text(body.get("numero_engagement")),
            "bank_account_id": body.get("compte_bancaire_id"), "payment_mode": body.get("mode_paiement") or "",
            "original_piece_id": body.get("piece_origine_id"), "previous_piece_id": body.get("piece_precedente_id")}


def deposit_item(body: dict) -> batch_ops.Item:
    """The body as an item of `deposits.batch` (the draft form's fields, its files decoded, sent with `envoyer`)."""
    main = upload(body["fichier"]) if body.get("fichier") else None
    attachments = [upload(item) for item in body.get("pieces_jointes") or []]
    return batch_ops.Item(body["marche_id"], draft_raw(body), main, attachments, bool(body.get("envoyer")))


def create_piece(body: dict) -> Piece:
    """A draft from the body (and sent at once with `envoyer`): the batch's steps for one piece, the portal's
    `create_draft` and `deposit` (a refusal is raised: the caller answers 422 with it)."""
    ctx = DepositContext(g.structure)
    outcome, = batch_ops.create_many(g.api_account, g.structure, [deposit_item(body)], now=now(), ctx=ctx)
    if outcome.error is not None:
        raise outcome.error
    ctx.finish()
    return outcome.piece


def _may_deposit_on(marche_id: int) -> bool:
    kind = db.session.scalar(select(Marche.kind).where(Marche.id == marche_id))
    return has_right("travaux" if kind == "travaux" else "emises", "modification")


@bp.post("")
@idempotent(bp)
@bp.arguments(S.DraftIn)
@bp.response(201, S.PieceDetail)
@bp.doc(responses=links.responses(201, links.PIECE_LINKS))
@bp.problems(400, 401, 403, 422, 429)
def create(body):
    """Créer un brouillon (et l'envoyer aussitôt avec `envoyer`: true) : les mêmes contrôles que le formulaire du
    portail, puis le contrôle avant envoi."""
    if not (has_right("emises", "modification") or has_right("travaux", "modification")):
        return problem(403)
    if not _may_deposit_on(body["marche_id"]):
        return problem(403)
    piece = create_piece(body)
    return piece_detail(ops.piece_for(g.structure, piece.id))


@bp.post("/<int:piece_id>/fichiers")
@idempotent(bp)
@bp.arguments(S.FilesIn)
@bp.response(200, S.PieceDetail)
@bp.problems(400, 401, 403, 404, 422, 429)
def add_files(body, piece_id: int):
    """Joindre des fichiers à un brouillon (le premier devient le document principal avec `principal`)."""
    piece = _visible(piece_id, "modification")
    if not isinstance(piece, Piece):
        return piece
    files = [upload(item) for item in body["fichiers"]]
    main = files.pop(0) if body["principal"] else None
    draft = ops.update_draft(g.api_account, g.structure, piece.id, _current_raw(piece), main_file=main,
                             attachments=files, now=now())
    return piece_detail(ops.piece_for(g.structure, draft.id))


def _current_raw(piece: Piece) -> dict:
    """A draft's own fields, as `update_draft` takes them (it wants them all, as a form posts them)."""
    return {"party_id": piece.emitter_party_id, "cadre": piece.cadre or "", "piece_type": piece.piece_type,
            "number": piece.number, "issue_date": piece.issue_date, "montant_ht": piece.montant_ht,
            "montant_tva": piece.montant_tva, "montant_ttc": piece.montant_ttc, "vat_regime": piece.vat_regime,
            "recipient_siret": piece.recipient_siret, "service_code": piece.service_code or "",
            "engagement_number": piece.engagement_number or "", "bank_account_id": piece.bank_account_id,
            "payment_mode": piece.payment_mode, "original_piece_id": piece.original_piece_id,
            "previous_piece_id": piece.previous_piece_id}


@bp.get("/<int:piece_id>/controle")
@bp.response(200, S.Preflight)
@bp.problems(401, 403, 404, 429)
def preflight(piece_id: int):
    """Le contrôle avant envoi d'un brouillon : la liste des problèmes (vide : la pièce peut partir)."""
    piece = _visible(piece_id, "consultation")
    if not isinstance(piece, Piece):
        return piece
    from chorus_chain.api.core import FIELD_NAMES

    problems = ops.preflight(piece, now()) if piece.is_draft else []
    return {"pret": piece.is_draft and not problems,
            "problemes": [{"field": FIELD_NAMES.get(p.field, p.field), "message": p.message_fr} for p in problems]}


@bp.post("/<int:piece_id>/envoi")
@idempotent(bp)
@bp.response(200, S.PieceDetail)
@bp.doc(responses=links.responses(200, links.PIECE_LINKS))
@bp.problems(401, 403, 404, 422, 429)
def send(piece_id: int):
    """Envoyer un brouillon : le contrôle avant envoi (refus 422 avec chaque problème), puis le dépôt."""
    piece = _visible(piece_id, "modification")
    if not isinstance(piece, Piece):
        return piece
    ops.deposit(piece.id, g.api_account, g.structure, now=now())
    return piece_detail(ops.piece_for(g.structure, piece.id))


@bp.post("/<int:piece_id>/actions")
@idempotent(bp)
@bp.arguments(S.ActionIn)
@bp.response(200, S.PieceDetail)
@bp.doc(responses=links.responses(200, links.PIECE_LINKS))
@bp.problems(400, 401, 403, 404, 422, 429)
def act(body, piece_id: int):
    """Agir sur une pièce (valider, refuser avec un motif, prendre en charge, compléter, recycler, payer…), si elle
    est toujours au `statut_attendu` : sinon refus 422 (« Cette pièce a déjà été traitée »)."""
    piece = _visible(piece_id, "modification")
    if not isinstance(piece, Piece):
        return piece
    files = [upload(item) for item in body["fichiers"]]
    ops.act(piece.id, g.api_account, g.structure, body["action"], expected_status=body["statut_attendu"],
            reason=body["motif"], comment=body["commentaire"], amount=body["montant"], paid_on=body["date_paiement"],
            files=files, now=now())
    return piece_detail(ops.piece_for(g.structure, piece.id))
