"""The maître d'ouvrage validates an état d'acompte as one document, or returns it to the MOE with a reason.

Validating (one click, whatever the number of projets de décompte inside):
- the marché's row, then the état's, are locked: two MOA users validating at once make one change, the other is
  told (PostgreSQL row locks; tested in tests/integration/test_etat_pieces_concurrency.py);
- the A15 is taken and validated (ASSOCIEE: the A19 takes over), each PDM it carries is taken and validated by
  the MOA and reaches the paying office (inside the état: the paying office pays the état's lines, not the PDMs);
- the A19 is deposited for the paying office (its main file, the validated état's PDF, queued: `validated_pdf`),
  and the payable lines are written from the frozen result.

Returning (a reason is required): the A15 is closed (REFUSEE_MOA), each PDM goes back to the MOE's desk
(PRISE_EN_COMPTE_MOE, its 7 days start again), the état is kept as "returned" with its reason, and the MOE finds
the same état open again as a draft numbered « n° k bis » — so nobody confuses the two. Refused when a later état
was already issued from it (its cumulative figures start from this one).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import text as text_rules
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Account, Marche, Structure
from chorus_chain.models.money import ETAT_SUFFIXES, Decompte, EtatAcompte, MarchePenalty
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.etat_pieces import lines as line_ops
from chorus_chain.operations.etat_pieces import pieces as piece_ops
from chorus_chain.operations.etat_pieces import validated_pdf
from chorus_chain.operations.marches import MarcheAccess, record

REASON_MAX = 1000
A = T.Action


def is_moa(access: MarcheAccess) -> bool:
    return Role.MOA in access.own_roles()


def require_moa(access: MarcheAccess) -> None:
    if not is_moa(access):
        raise OperationError("Seul le maître d'ouvrage du marché valide ou renvoie un état d'acompte.")


def _lock(access: MarcheAccess, etat_id: Any) -> tuple[Marche, EtatAcompte]:
    marche = db.session.get(Marche, access.marche.id, with_for_update=True, populate_existing=True)
    try:
        etat_id = int(etat_id)
    except (TypeError, ValueError):
        etat_id = None
    etat = db.session.scalar(select(EtatAcompte).where(EtatAcompte.id == etat_id,
                                                       EtatAcompte.marche_id == marche.id)
                             .with_for_update().execution_options(populate_existing=True)) if etat_id else None
    if etat is None:
        raise OperationError("Cet état d'acompte n'existe pas.")
    return marche, etat


def _waiting(etat: EtatAcompte) -> None:
    """Only an issued état not yet answered is validated or returned."""
    if etat.final:
        raise OperationError("L'état final ne se valide pas comme un état d'acompte : le maître d'œuvre en établit "
                             "le projet de décompte général, dont le maître d'ouvrage fait le décompte général "
                             "qu'il notifie au titulaire.")
    if etat.status == "draft":
        raise OperationError(f"L'état d'acompte n° {etat.label} n'est pas encore émis par le maître d'œuvre.")
    if etat.status == "returned":
        raise OperationError(f"L'état d'acompte n° {etat.label} a été renvoyé au maître d'œuvre : il ne peut plus "
                             "être validé. Rechargez la page.")
    if etat.validated_at is not None:
        raise OperationError(f"L'état d'acompte n° {etat.label} a déjà été validé. Rechargez la page.")
    if etat.piece_id is None:  # an état issued before the états travelled as pieces (issue 12)
        raise OperationError(f"L'état d'acompte n° {etat.label} n'a pas été transmis comme pièce : il se traite "
                             "pièce par pièce.")


def _moa_actions(status: str, final: tuple[str, ...]) -> list[str]:
    return ([A.MOA_TAKE] if status == T.Status.A_ASSOCIER_MOA.value else []) + list(final)


def validate(access: MarcheAccess, etat_id: Any, account: Account, structure: Structure, *,
             now: datetime) -> EtatAcompte:
    require_moa(access)
    marche, etat = _lock(access, etat_id)
    _waiting(etat)
    label = etat.label
    a15 = records.load_for_update(etat.piece_id)
    extra = {"etat": {"id": etat.id, "number": label}}
    piece_ops.move(a15, _moa_actions(a15.status, (A.MOA_VALIDATE,)), T.STEP_MOA, account=account,
                   structure=structure, now=now, extra=extra, comment=None)
    pdms = piece_ops.linked_pdms(etat, lock=True)
    for piece, _link in pdms:
        if piece.status not in (T.Status.A_ASSOCIER_MOA.value, T.Status.PRISE_EN_COMPTE_MOA.value):
            raise OperationError(f"Le projet de décompte n° {piece.number} n'est plus chez le maître d'ouvrage : "
                                 "l'état ne peut pas être validé. Rechargez la page.")
        piece_ops.move(piece, _moa_actions(piece.status, (A.MOA_VALIDATE,)), T.STEP_MOA, account=account,
                       structure=structure, now=now, extra=extra, announce=False)
    etat.validated_at = now
    etat.validated_by_id = account.id
    piece_ops.deposit_a19(marche, etat, account=account, structure=structure, now=now)
    validated_pdf.queue_a19_pdf(etat)  # its main file: the validated état's PDF, rendered by the documents worker
    party_of = {d.piece_id: d.party_id for d in db.session.scalars(
        select(Decompte).where(Decompte.piece_id.in_([p.id for p, _ in pdms])))} if pdms else {}
    line_ops.build_lines(marche, etat, [(p, party_of.get(p.id, p.emitter_party_id)) for p, _ in pdms], now=now)
    db.session.flush()
    record(marche, "etat_acompte_validated", account=account, structure=structure, number=label,
           month=etat.month, amount_due=etat.result["marche"]["amount_due"]["this"])
    return etat


def return_etat(access: MarcheAccess, etat_id: Any, account: Account, structure: Structure, reason: Any, *,
                now: datetime) -> EtatAcompte:
    """Return the état to the MOE; returns the new draft (« n° k bis ») the MOE corrects and issues again."""
    require_moa(access)
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise OperationError("Indiquez pourquoi vous renvoyez l'état d'acompte au maître d'œuvre : il le lit, "
                             "corrige l'état et l'émet de nouveau.", field="reason")
    if len(text) > REASON_MAX:
        raise OperationError(f"Le motif tient en {REASON_MAX} caractères au plus.", field="reason")
    problem = text_rules.text_problem(text, multiline=True)  # read as posted (no form class): checked here
    if problem:
        raise OperationError(problem, field="reason")
    marche, etat = _lock(access, etat_id)
    _waiting(etat)
    later = db.session.scalar(select(EtatAcompte).where(EtatAcompte.marche_id == marche.id,
                                                        EtatAcompte.number > etat.number,
                                                        EtatAcompte.status == "issued"))
    if later is not None:
        raise OperationError(f"L'état d'acompte n° {later.label} a déjà été émis à la suite de celui-ci : "
                             f"l'état n° {etat.label} ne peut plus être renvoyé.", field="reason")
    if etat.suffix + 1 >= len(ETAT_SUFFIXES):
        raise OperationError("Cet état a déjà été renvoyé trop de fois : contactez le maître d'œuvre.")
    extra = {"etat": {"id": etat.id, "number": etat.label}}
    a15 = records.load_for_update(etat.piece_id)
    piece_ops.move(a15, [A.RETURN_ETAT], T.STEP_MOA, account=account, structure=structure, now=now, reason=text,
                   extra=extra)
    for piece, _link in piece_ops.linked_pdms(etat, lock=True):
        if piece.status in (T.Status.A_ASSOCIER_MOA.value, T.Status.PRISE_EN_COMPTE_MOA.value):
            piece_ops.move(piece, [A.RETURN_ETAT], T.STEP_MOA, account=account, structure=structure, now=now,
                           reason=text, extra=extra, announce=False)
        # The returned état's corrections no longer stand: their 30 days to contest end with it, and the état
        # issued again opens new ones if it corrects (found by tests/integration/test_etat_pieces_property.py).
        records.close_clocks(piece, [clocks.CONTEST_MOE_CORRECTIONS], now)
    again = EtatAcompte(marche_id=marche.id, number=etat.number, suffix=etat.suffix + 1, month=etat.month,
                        final=etat.final, status="draft", created_by_id=etat.created_by_id, created_at=now,
                        replaces_id=etat.id)
    db.session.add(again)
    etat.status = "returned"
    etat.returned_at = now
    etat.returned_by_id = account.id
    etat.return_reason = text
    db.session.flush()
    # The projets de décompte and the penalties follow the état issued again; the returned one keeps its frozen
    # result (and the link rows) for the record.
    for decompte in piece_ops.decomptes_of(etat):
        decompte.etat_acompte_id = None
    for penalty in db.session.scalars(select(MarchePenalty).where(MarchePenalty.etat_acompte_id == etat.id)):
        penalty.etat_acompte_id = again.id
    db.session.flush()
    record(marche, "etat_acompte_returned", account=account, structure=structure, number=etat.label,
           month=etat.month, reason=text, again=again.label)
    return again
