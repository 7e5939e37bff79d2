"""The décompte of a projet de décompte through the API: read its lines (as the portal's décompte page and the
piece page show them) and enter them on a draft — the portal's operations (`operations.decomptes.sheet_for`,
`save_decompte`; `decompte_entry.readiness` for what still stops the sending), as the client's structure.
Sending is `POST /pieces/{id}/envoi`, as for any draft."""
from __future__ import annotations

import re

from flask import g
from flask.views import MethodView

from chorus_chain.api import schemas as S
from chorus_chain.api.core import FIELD_NAMES, api_blueprint, has_right, idempotent, now, require
from chorus_chain.api.problems import problem
from chorus_chain.domain.money import schedule as rules
from chorus_chain.extensions import db
from chorus_chain.models import MarcheParty, Piece
from chorus_chain.operations import OperationError
from chorus_chain.operations import decomptes
from chorus_chain.operations import pieces as pieces_ops
from chorus_chain.operations.decompte_entry import readiness

bp = api_blueprint("api_decompte", "/pieces", "Décompte d'un projet de décompte : lecture et saisie des lignes.")
CHANGE = ("travaux", "modification")



def _decompte_piece(piece_id: int, level: str):
    """The portal's `_decompte_piece`: a PDM the structure sees (404 otherwise), the right on its domain (403)."""
    piece = pieces_ops.piece_for(g.structure, piece_id)
    if piece is None or not decomptes.is_decompte_piece(piece):
        return problem(404)
    if not has_right(pieces_ops.rights_domain(piece, g.structure.id), level):
        return problem(403)
    return piece


def decompte_out(piece, sheet: decomptes.Sheet) -> dict:
    editable = piece.is_draft and piece.emitter_structure_id == g.structure.id and has_right(*CHANGE)
    blocking = readiness.send_problems(piece, sheet, now()) if editable else []
    return {
        "piece_id": piece.id, "mois": sheet.month, "final": sheet.final, "enregistre": sheet.decompte is not None,
        "mois_precedent": sheet.previous.month if sheet.previous is not None else None,
        "lignes": [{"ligne_id": r.line.id, "reference": r.line.reference, "designation": r.line.designation,
                    "lot": r.line.lot, "unite": r.line.unit, "forfait": r.line.lump_sum,
                    "quantite_marche": r.line.quantity, "prix_unitaire_ht": r.line.unit_price_ht,
                    "montant_marche_ht": r.line.amount_ht, "cumul_precedent": r.previous, "cumul": r.measure,
                    "montant_cumule_ht": r.amount, "montant_precedent_ht": r.previous_amount,
                    "avancement": r.progress, "justification": r.justification,
                    "a_justifier": r.needs_justification, "problemes": [p.message_fr for p in r.problems]}
                   for r in sheet.rows],
        "cumuls": {name: sheet.extras.get(name) for name in rules.EXTRAS if sheet.extras.get(name) is not None},
        "montant_ht": sheet.amount.montant_ht if sheet.amount is not None else None,
        "erreur_montant": sheet.amount_error, "justification": sheet.justification, "modifiable": editable,
        "problemes_envoi": [{"field": _api_field(p.field), "message": p.message_fr} for p in blocking],
    }


_LINE_FIELD = re.compile(r"^([mj])_([0-9]+)$")


def _api_field(field: str | None) -> str | None:
    """The operation's form field names → the API's: m_12 → lignes[ligne_id=12].cumul, month → mois."""
    if field is None:
        return None
    match = _LINE_FIELD.match(field)
    if match:
        return f"lignes[ligne_id={match.group(2)}].{'cumul' if match.group(1) == 'm' else 'justification'}"
    return {"month": "mois", "decompte": "lignes"}.get(field, FIELD_NAMES.get(field, field))


def _raw(body: dict) -> dict:
    """The API's body → the fields `save_decompte` takes (the décompte form's names)."""
    raw = {"month": body["mois"], "justification": body["justification"]}
    for name in rules.EXTRAS:
        if body.get(name) is not None:
            raw[name] = body[name]
    for line in body["lignes"]:
        if line["cumul"] is not None:
            raw[f"m_{line['ligne_id']}"] = line["cumul"]
        raw[f"j_{line['ligne_id']}"] = line["justification"]
    return raw


# One rule for both methods (a MethodView): werkzeug answers 405 instead of 404 for an id beyond the converter's
# bounds when a GET rule and a POST rule share the path.
@bp.route("/<int:piece_id>/decompte", endpoint="decompte")
class Decompte(MethodView):

    @bp.response(200, S.DecompteOut)
    @bp.problems(401, 403, 404, 429)
    @require("travaux", "consultation")  # the portal's décompte page: works pieces
    def get(self, piece_id: int):
        """Le décompte d'un projet de décompte (A4, A10, A13, A7, A14) : chaque ligne de prix de la part du
        déposant, le cumul précédent et celui à ce jour, les montants, l'avancement, ce qui demande une
        justification ; sur un brouillon de la structure, ce qui empêche encore de l'envoyer."""
        piece = _decompte_piece(piece_id, "consultation")
        if not isinstance(piece, Piece):
            return piece
        return decompte_out(piece, decomptes.sheet_for(piece))

    @idempotent(bp)
    @bp.arguments(S.DecompteIn)
    @bp.response(200, S.DecompteOut)
    @bp.problems(400, 401, 403, 404, 422, 429)
    @require(*CHANGE)
    def post(self, body, piece_id: int):
        """Saisir le décompte d'un brouillon de projet de décompte : le cumul à ce jour de chaque ligne (une ligne
        absente garde le cumul du mois précédent), les cumuls d'approvisionnements, primes, débours et réfactions,
        les justifications. Les montants du brouillon deviennent ceux du décompte ; il n'est PAS envoyé (`POST
        /pieces/{id}/envoi`)."""
        piece = _decompte_piece(piece_id, "modification")
        if not isinstance(piece, Piece):
            return piece
        own = piece.emitter_structure_id == g.structure.id  # anyone else's piece: the operation refuses it
        if own:
            party = db.session.get(MarcheParty, piece.emitter_party_id)
            known = {line.id for line in decomptes.party_lines(piece.marche_id, party)}
            for line in body["lignes"]:
                if line["ligne_id"] not in known:
                    raise OperationError("Cette ligne n'est pas une ligne de prix de votre part du marché.",
                                         field=f"lignes[ligne_id={line['ligne_id']}]")
        try:
            decomptes.save_decompte(g.api_account, g.structure, piece.id, _raw(body), now=now())
        except OperationError as error:
            raise OperationError(error.message, field=_api_field(error.field)) from None
        piece = pieces_ops.piece_for(g.structure, piece.id)
        return decompte_out(piece, decomptes.sheet_for(piece))
