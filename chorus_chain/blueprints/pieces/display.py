"""How the pages of the pièces show things: labels, badges, countdowns, the route with names, the timeline lines.

Presentation only: every rule comes from the domain tables (statuses, transitions, deadlines, cadres) and the
operations; this module turns their codes into French words for the templates.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import statuses
from chorus_chain.domain import transitions as T
from chorus_chain.domain.amounts import AUTOLIQUIDATION_MENTION
from chorus_chain.domain.cadres import CADRES, is_works_piece
from chorus_chain.extensions import db
from chorus_chain.help_ui import PAID, badge  # noqa: F401  (badge: a template global of this module)
from chorus_chain.models import Structure

PRIVATE_LABEL = "Facture à l'entreprise donneuse d'ordre (hors Chorus Pro)"

STEP_LABELS = {
    T.STEP_VALIDATION_1: "Validation par le donneur d'ordre",
    T.STEP_VALIDATION_2: "Validation par le mandataire",
    T.STEP_MOE: "Maître d'œuvre",
    T.STEP_MOA: "Maître d'ouvrage",
    T.STEP_PAIEMENT: "Service financier (paiement)",
    T.STEP_CONTRACTOR: "Entreprise donneuse d'ordre",
}


def cadre_code(cadre: str | None) -> str:
    return cadre or "privée"


def cadre_label(cadre: str | None) -> str:
    """"Projet de décompte mensuel de sous-traitant" — the plain words; the code is shown beside them."""
    return CADRES[cadre].label if cadre in CADRES else PRIVATE_LABEL


def piece_kind(piece) -> str:
    return "Avoir" if piece.piece_type == "AVOIR" else cadre_label(piece.cadre)


def deposit_domain(cadre: str | None, marche) -> str:
    """The rights domain of a piece about to be deposited (as `rights_domain` will say once it exists)."""
    return "travaux" if is_works_piece(cadre, marche.kind) else "emises"


def is_refused_for_good(status: str) -> bool:
    """Refused or rejected for good: the emitter starts again with a new piece (a new number)."""
    code = statuses.as_status(status)
    return statuses.is_final(code) and code not in PAID


def countdown(deadline, now: datetime) -> str:
    return clocks.countdown_fr(deadline.kind, deadline.due_at, now)


def deadline_label(kind: str) -> str:
    return clocks.DEADLINES[kind].label


def is_overdue(deadline, now: datetime) -> bool:
    return clocks.is_expired(deadline.due_at, now)


def reason_text(code: str | None) -> str | None:
    """A reason as people read it: the label of a refusal or recycling code, or the free text itself."""
    if not code:
        return None
    if code in T.REFUSAL_REASONS:
        return T.REFUSAL_REASONS[code].label
    return T.RECYCLE_REASONS.get(code, code)


def amount_text(value: Decimal | None) -> str:
    """An amount as a French form field shows it ("1200,50")."""
    return "" if value is None else format(value, "f").replace(".", ",")


def structure_names(piece, dossier=None) -> dict[int, str]:
    """The names of the structures on the piece's route and in its timeline (one query)."""
    ids = {step["structure_id"] for step in piece.route or () if step.get("structure_id")}
    if dossier is not None:
        ids |= {entry.event.structure_id for entry in dossier.timeline if entry.event.structure_id}
        ids |= {p.emitter_structure_id for p in dossier.pieces}
    ids.add(piece.emitter_structure_id)
    return dict(db.session.execute(select(Structure.id, Structure.name).where(Structure.id.in_(ids))).all())


@dataclass(frozen=True)
class RouteLine:
    step: str
    label: str
    name: str
    siret: str
    current: bool
    done: bool


def route_lines(piece, names: dict[int, str]) -> list[RouteLine]:
    """The frozen route, in order, with who acts now marked (and the steps already passed)."""
    waiting = T.current_step(piece.status) if not piece.is_draft else None
    steps = [step["step"] for step in piece.route or ()]
    current_index = steps.index(waiting) if waiting in steps else None
    final = statuses.is_final(piece.status)
    lines = []
    for index, step in enumerate(piece.route or ()):
        lines.append(RouteLine(
            step["step"], STEP_LABELS.get(step["step"], step["step"]),
            names.get(step.get("structure_id"), step.get("siret", "")), step.get("siret", ""),
            current=index == current_index,
            done=(current_index is not None and index < current_index) or (final and piece.status in PAID)))
    return lines


def waiting_text(piece, names: dict[int, str]) -> str:
    """Who the piece waits on now, in French."""
    if piece.is_draft:
        return "Vous : la pièce n'est pas envoyée."
    step = T.current_step(piece.status)
    if step is None:
        return "Personne : le traitement de cette pièce est terminé."
    if step == T.SYSTEM:
        return "La plateforme, qui la transmet à l'étape suivante."
    if step == T.EMITTER:
        return f"L'émetteur : {names.get(piece.emitter_structure_id, '')}."
    if step == T.TITULAIRE:
        return "Le titulaire du marché, qui signe le décompte général."
    who = [names.get(s["structure_id"], s.get("siret", "")) for s in piece.route or () if s["step"] == step]
    label = STEP_LABELS.get(step, step).lower()
    return f"{label[:1].upper()}{label[1:]} : {', '.join(dict.fromkeys(who)) or '—'}."


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    piece_number: str
    piece_id: int
    same_piece: bool
    action: str
    who: str
    from_label: str | None
    to_label: str
    reason: str | None
    comment: str | None
    amount: Decimal | None
    paid_on: object
    system: bool


def timeline(piece, dossier, names: dict[int, str]) -> list[TimelineLine]:
    lines = []
    for entry in dossier.timeline:
        event = entry.event
        system = event.account_id is None
        if system:
            who = "La plateforme (échéance ou transmission automatique)"
        else:
            who = f"{event.actor} — {names.get(event.structure_id, event.actor_siret or '')}"
        lines.append(TimelineLine(
            at=event.at, piece_number=entry.piece.number, piece_id=entry.piece.id,
            same_piece=entry.piece.id == piece.id, action=T.ACTION_LABELS.get(event.action, event.action),
            who=who, from_label=statuses.label(event.from_status) if event.from_status else None,
            to_label=statuses.label(event.to_status), reason=reason_text(event.reason), comment=event.comment,
            amount=event.amount, paid_on=event.paid_on, system=system))
    return lines


def sentence(text: str) -> str:
    """"valider partiellement" → "Valider partiellement" (Jinja's capitalize would also lower "(A22)")."""
    return text[:1].upper() + text[1:]


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} octets"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} Ko".replace(".", ",")
    return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")


FILE_ROLE_LABELS = {"main": "Document principal", "attachment": "Pièce jointe", "completion": "Complément"}
DANGER_ACTIONS = frozenset({T.Action.REFUSE, T.Action.MOA_REFUSE, T.Action.REJECT, T.Action.REFUSE_DG})
# The actions that cannot be undone, and what the confirmation says cannot be (one mechanism for every page:
# templates/_confirm_macros.html and static/app.js).
_REFUSAL = ("Le refus est définitif : la pièce ne reviendra pas ; l'entreprise devra en émettre une nouvelle, sous un "
            "nouveau numéro.")
IRREVERSIBLE = {
    T.Action.VALIDATE: "La validation ne s'annule pas : la pièce passe à l'étape suivante de son circuit et vous ne "
                       "pourrez plus la refuser.",
    T.Action.VALIDATE_PARTIALLY: "La validation partielle ne s'annule pas : la pièce poursuit son circuit avec le "
                                 "montant et le motif que vous indiquez.",
    T.Action.MOA_VALIDATE: "La validation ne s'annule pas : la pièce passe au service financier pour le paiement.",
    T.Action.ISSUE_ETAT_ACOMPTE: "L'état d'acompte émis ne change plus : ses montants sont figés et transmis au "
                                 "maître d'ouvrage.",
    T.Action.MARK_SERVICE_FAIT: "Le service fait constaté ne s'annule pas : il ouvre la suite du paiement.",
    T.Action.MARK_MANDATEE: "Le mandatement ne s'annule pas ici : il est transmis au comptable public.",
    T.Action.MARK_PAID: "La mise en paiement est définitive : le montant indiqué est enregistré comme payé et "
                        "annoncé à l'entreprise.",
    T.Action.SIGN_DG: "La signature du décompte général est définitive : il devient le décompte général et "
                      "définitif.",
    T.Action.REFUSE: _REFUSAL, T.Action.MOA_REFUSE: _REFUSAL, T.Action.REJECT: _REFUSAL,
}


def template_helpers() -> dict:
    from chorus_chain.domain.rights import DOMAIN_LABELS
    from chorus_chain.graph import ROLE_LABELS
    from chorus_chain.models.pieces import PAYMENT_MODE_LABELS

    return {
        "status_label": statuses.label, "status_explanation": statuses.explanation, "badge": badge,
        "cadre_code": cadre_code, "cadre_label": cadre_label, "piece_kind": piece_kind,
        "countdown": countdown, "deadline_label": deadline_label, "is_overdue": is_overdue,
        "reason_text": reason_text, "sentence": sentence, "size_text": size_text,
        "AUTOLIQUIDATION_MENTION": AUTOLIQUIDATION_MENTION, "ACTION_LABELS": T.ACTION_LABELS,
        "STEP_LABELS": STEP_LABELS, "ROLE_LABELS": ROLE_LABELS, "PAYMENT_MODE_LABELS": PAYMENT_MODE_LABELS,
        "DOMAIN_LABELS": DOMAIN_LABELS, "FILE_ROLE_LABELS": FILE_ROLE_LABELS, "DANGER_ACTIONS": DANGER_ACTIONS,
        "IRREVERSIBLE": IRREVERSIBLE,
    }
