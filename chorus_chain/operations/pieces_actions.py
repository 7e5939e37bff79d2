"""Acting on a deposited piece: every action of the transition table a user takes (validate, refuse, take, issue the
état d'acompte, mark service fait / mandatée / paid, recycle, suspend, reject...), and the ones with more to do:
`redirect_validator` (the route is frozen again from the chain), `resend` (only the routing fields change, same
number), `complete` (new attachments), `mark_paid` (date and amount). See `operations.pieces` for the whole API.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, case, exists, false, or_, select

from chorus_chain.domain import amount_why
from chorus_chain.domain import amounts as amount_rules
from chorus_chain.domain import deadlines as clocks
from chorus_chain.domain import transitions as T
from chorus_chain.extensions import db
from chorus_chain.models import Account, Piece, PieceEvent, Structure
from chorus_chain.models.decompte_general import DecompteGeneral
from chorus_chain.models.money import Decompte, EtatAcompte
from chorus_chain.operations import OperationError
from chorus_chain.operations import pieces_drafts as drafts
from chorus_chain.operations import pieces_records as records
from chorus_chain.operations.marches import today

A = T.Action
# The routing fields a piece "à recycler" may change before it is resent under the same number (CHORUS.md §4).
RESEND_FIELDS = ("recipient_siret", "service_code", "engagement_number")
# Which files an action takes: "required" (complete: the documents asked for), "optional" (the MOE's état
# d'acompte, attached to the piece).
FILES_POLICY = {A.COMPLETE: "required", A.ISSUE_ETAT_ACOMPTE: "optional"}
FILE_ROLE = {A.COMPLETE: "completion", A.ISSUE_ETAT_ACOMPTE: "attachment"}


@dataclass(frozen=True)
class ActionChoice:
    """An action a structure may take now on a piece, and what its form needs:
    - `reason`: None (no reason), "refusal" (a code of `reasons`), "recycle" (a code of `reasons`: the routing field
      at fault), "text" (a required free text), "optional" (a free text);
    - `reasons`: the (code, French label) choices for "refusal" / "recycle" (no "montant" on a works piece);
    - `amount`: None, "required" (partial validation: the accepted amount TTC; payment: the amount paid) or
      "optional" (the MOE's admitted amount); `paid_on`: a payment date is required;
    - `files`: None, "required" or "optional"; `changes`: the fields that may be corrected (resend)."""

    action: str
    label: str
    actor_step: str
    reason: str | None
    reasons: tuple[tuple[str, str], ...]
    amount: str | None
    paid_on: bool
    files: str | None
    changes: tuple[str, ...]


def _reasons(action: str, route_steps: tuple[str, ...], cadre: str | None) -> tuple[tuple[str, str], ...]:
    policy = T.REASON_POLICY.get(action)
    if policy == "recycle":
        return tuple(T.RECYCLE_REASONS.items())
    if policy == "refusal":
        works = T.is_works_route(route_steps, cadre)
        return tuple((code, r.label) for code, r in T.REFUSAL_REASONS.items() if not (works and r.amount))
    return ()


@dataclass(frozen=True)
class PageFacts:
    """What the actions offered on a page of pieces depend on beyond their rows, read for the whole page at once
    (`page_facts`: at most four queries whatever the number of rows) instead of one query per row."""

    carried: set[int]  # projets de décompte an issued état carries
    referred: set[int]  # projets de décompte the titulaire referred to the MOA
    decompte_general: set[int]  # the A17 / A20 / A8 of a décompte général
    acknowledged: set[tuple[int, str]]  # (piece, status) whose rejection was acknowledged in that status


def page_facts(pieces: Iterable[Piece], carried: set[int] | None = None,
               referred: set[int] | None = None) -> PageFacts:
    """`carried`: the page's pieces an issued état carries, `referred`: those the titulaire referred to the MOA
    (`referred_by_the_titulaire`), when the caller read them with its rows (the Synthèse: `synthese.reading`); else
    one query each."""
    pieces = list(pieces)
    pdms = [p.id for p in pieces if p.cadre in T.PDM_CADRES]
    at_moa = [p.id for p in pieces if p.cadre in T.PDM_CADRES and p.status in REFERRED_AT_MOA]
    if referred is not None:
        referred = referred & set(at_moa)
    else:
        referred = set(db.session.scalars(select(PieceEvent.piece_id).where(
            PieceEvent.piece_id.in_(at_moa), PieceEvent.action == A.REFER_TO_MOA))) if at_moa else set()
    rejected = [p.id for p in pieces if not p.is_draft and A.ACKNOWLEDGE_REJECTION in _offered_anywhere(p)]
    acknowledged = {(piece_id, status) for piece_id, status in db.session.execute(select(
        PieceEvent.piece_id, PieceEvent.from_status).where(
        PieceEvent.piece_id.in_(rejected), PieceEvent.action == A.ACKNOWLEDGE_REJECTION))} if rejected else set()
    return PageFacts(carried=carried_pdms(pdms) if carried is None else carried & set(pdms), referred=referred,
                     decompte_general=decompte_general_pieces(p.id for p in pieces if p.cadre in DG_ONLY_ACTIONS),
                     acknowledged=acknowledged)


def _offered_anywhere(piece: Piece) -> frozenset[str]:
    """Every action some actor may take on the piece in its status (pure: the transition table)."""
    return _offered_in(piece.status, piece.route_steps, piece.cadre)


@lru_cache(maxsize=4096)
def _offered_in(status: str, route_steps: tuple[str, ...], cadre: str | None) -> frozenset[str]:
    # A page asks this of every row, and the rows share a few statuses and routes: the table is read once each
    # (it was a twentieth of the Synthèse's CPU, bench/page_cpu.py).
    return frozenset(action for actor in T.ACTORS
                     for action in T.allowed_actions(status, route_steps, actor, cadre=cadre))


def _acknowledged(piece: Piece, facts: PageFacts | None = None) -> bool:
    if facts is not None:
        return (piece.id, piece.status) in facts.acknowledged
    return db.session.scalar(select(PieceEvent.id).where(
        PieceEvent.piece_id == piece.id, PieceEvent.action == A.ACKNOWLEDGE_REJECTION,
        PieceEvent.from_status == piece.status)) is not None


# The actions only the état d'acompte's operations take (issue 12): the A15 is validated or returned as one
# document by the MOA (`operations.etat_pieces.moa`), the A19 is paid line by line (`etat_pieces.paying`); a projet
# de décompte reaches the MOA only inside the MOE's état (`etats_acompte.issue`), goes back to the MOE only with it,
# and, once an état carries it, is validated and paid only through that état. On the piece page they are not
# offered; taken anyway, they are refused with the way to do it.
ETAT_ONLY_ACTIONS: dict[str, frozenset[str]] = {
    "A15": frozenset({A.MOA_TAKE, A.MOA_VALIDATE, A.MOA_REFUSE, A.RETURN_ETAT}),
    "A19": frozenset({A.MARK_SERVICE_FAIT, A.MARK_MANDATEE, A.MARK_PAID, A.RECYCLE, A.SUSPEND, A.REJECT}),
    **{cadre: frozenset({A.RETURN_ETAT, A.ISSUE_ETAT_ACOMPTE}) for cadre in T.PDM_CADRES},
}
# On a projet de décompte that an état carries (`carried_pdms`).
CARRIED_PDM_ACTIONS = frozenset({A.MOA_TAKE, A.MOA_VALIDATE, A.MOA_REFUSE, A.MARK_SERVICE_FAIT, A.MARK_MANDATEE,
                                 A.MARK_PAID})
ETAT_ONLY_MESSAGES = {
    "A15": "Cet état d'acompte se valide (ou se renvoie au maître d'œuvre) comme un seul document, depuis la page "
           "« États d'acompte » du marché.",
    "A19": "Cet état d'acompte validé se paie ligne par ligne (une ligne par entreprise) depuis la page « États "
           "d'acompte » du marché.",
}
ISSUE_MESSAGE = ("Un projet de décompte part chez le maître d'ouvrage dans votre état d'acompte, jamais seul : ouvrez "
                 "l'état d'acompte du mois (page « États d'acompte » du marché), admettez ou corrigez ses lignes, "
                 "puis émettez-le.")
PDM_MESSAGE = ("Ce projet de décompte circule dans l'état d'acompte du maître d'œuvre : c'est l'état qui se valide, "
               "se renvoie et se paie, depuis la page « États d'acompte » du marché.")


def carried_pdms(piece_ids: Iterable[int]) -> set[int]:
    """The projets de décompte an état carries now (issued and not returned). One query."""
    from chorus_chain.models.etat_pieces import EtatAcomptePdm
    from chorus_chain.models.money import EtatAcompte

    ids = list(piece_ids)
    if not ids:
        return set()
    return set(db.session.scalars(
        select(EtatAcomptePdm.piece_id).join(EtatAcompte, EtatAcompte.id == EtatAcomptePdm.etat_acompte_id)
        .where(EtatAcomptePdm.piece_id.in_(ids), EtatAcompte.status == "issued")))


# The décompte général's pieces (issue 12, end of contract) move only through its page: the MOE's A17 becomes the
# MOA's A20 there, the A20 is signed there (with the mémoire en réclamation when it has reservations), and the A8
# the signature deposits is paid line by line there. A piece of those cadres deposited by hand (outside a
# décompte général) keeps the piece page's actions.
DG_ONLY_ACTIONS: dict[str, frozenset[str]] = {
    "A17": frozenset({A.MOA_TAKE, A.MOA_VALIDATE, A.MOA_REFUSE, A.ESTABLISH_DG}),
    "A20": frozenset({A.MOA_TAKE, A.MOA_VALIDATE, A.MOA_REFUSE, A.SIGN_DG, A.SIGN_DG_WITH_RESERVATIONS,
                      A.REFUSE_DG}),
    "A8": frozenset({A.MARK_SERVICE_FAIT, A.MARK_MANDATEE, A.MARK_PAID, A.RECYCLE, A.SUSPEND, A.REJECT}),
}
DG_ONLY_MESSAGE = ("Le décompte général se traite depuis la page du décompte général du marché (« États d'acompte », "
                   "état final) : le maître d'ouvrage y établit le décompte général, le titulaire le signe, le "
                   "service financier paie le solde ligne par ligne.")


def decompte_general_pieces(piece_ids: Iterable[int]) -> set[int]:
    """The pieces that are the A17, A20 or A8 of a décompte général (one query)."""
    ids = list(piece_ids)
    if not ids:
        return set()
    found = set()
    for row in db.session.execute(select(DecompteGeneral.pdg_piece_id, DecompteGeneral.dg_piece_id,
                                         DecompteGeneral.dgd_piece_id).where(or_(
            DecompteGeneral.pdg_piece_id.in_(ids), DecompteGeneral.dg_piece_id.in_(ids),
            DecompteGeneral.dgd_piece_id.in_(ids)))):
        found.update(i for i in row if i in ids)
    return found


# A projet de décompte the titulaire referred to the MOA because the MOE let its 7 days (CHORUS.md §5) run out
# (`refer_to_moa`, CHORUS.md §4: « MOE late: titulaire and MOA are alerted; the titulaire may go to the MOA »). Going
# to the MOA does not make the claimed amount payable: the acompte is what the état d'acompte computes (§6: Δ cumul,
# revision, VAT, retenue, advance repayment, split per beneficiary), and only the MOE's état turns a projet into an
# amount — a PDM validated and paid alone would pay the amount requested, around the engine. So the MOA, once
# referred, does not validate nor pay it alone: it sends it back to the MOE's desk (`return_etat`, with its reason:
# the mise en demeure to establish the état), and the PDM reaches it again inside that état. [assumed: the CCAG lets
# the MOA act on the MOE's silence; we read it as the MOA ordering the état, not paying the request as claimed.]
# The titulaire loses nothing by the delay: the délai global de paiement keeps running from the MOE's receipt, and
# the late-payment interest with it.
REFERRED_AT_MOA = frozenset({T.Status.A_ASSOCIER_MOA.value, T.Status.PRISE_EN_COMPTE_MOA.value})
REFERRED_MESSAGE = ("Ce projet de décompte vous est adressé par l'entreprise faute d'état d'acompte du maître d'œuvre "
                    "dans son délai. Il ne se valide ni ne se paie seul : le montant d'un acompte est celui de l'état "
                    "d'acompte (révision, TVA, retenue, avance). Renvoyez-le au maître d'œuvre en lui demandant "
                    "d'établir l'état ; le délai de paiement court toujours depuis sa réception par le maître d'œuvre.")


def referred_to_moa(piece: Piece, facts: PageFacts | None = None) -> bool:
    """A projet de décompte at the MOA that got there by the titulaire's referral, not inside an état (one query,
    only for a PDM at the MOA; none with the page's `facts`)."""
    if piece.cadre not in T.PDM_CADRES or piece.status not in REFERRED_AT_MOA:
        return False
    if facts is not None:
        return piece.id in facts.referred
    return db.session.scalar(select(PieceEvent.id).where(PieceEvent.piece_id == piece.id,
                                                         PieceEvent.action == A.REFER_TO_MOA).limit(1)) is not None


def referred_by_the_titulaire():
    """`referred_to_moa` as an SQL condition correlated on `Piece`, for a statement that reads it with its rows (the
    Synthèse's work list: the MOA's page ran a statement of its own for it): the event is looked for only on a
    projet de décompte at the MOA (a CASE: PostgreSQL evaluates the subquery of the branch taken alone)."""
    return case((and_(Piece.cadre.in_(T.PDM_CADRES), Piece.status.in_(sorted(REFERRED_AT_MOA))),
                 exists().where(PieceEvent.piece_id == Piece.id, PieceEvent.action == A.REFER_TO_MOA)
                 .correlate(Piece)), else_=false())


def etat_only(piece: Piece, action: str, carried: set[int] | None = None, facts: PageFacts | None = None) -> bool:
    if facts is not None:
        carried = facts.carried
    if piece.cadre in T.PDM_CADRES and action in CARRIED_PDM_ACTIONS | {A.RETURN_ETAT} \
            and piece.status in REFERRED_AT_MOA \
            and piece.id not in (carried if carried is not None else carried_pdms([piece.id])) \
            and referred_to_moa(piece, facts):
        return action != A.RETURN_ETAT  # referred, not carried: back to the MOE's état, never paid alone
    if action in ETAT_ONLY_ACTIONS.get(piece.cadre or "", frozenset()):
        return True
    if action in DG_ONLY_ACTIONS.get(piece.cadre or "", frozenset()):
        return piece.id in (facts.decompte_general if facts is not None else decompte_general_pieces([piece.id]))
    if piece.cadre in T.PDM_CADRES and action in CARRIED_PDM_ACTIONS:
        return piece.id in (carried if carried is not None else carried_pdms([piece.id]))
    return False


def _etat_only_message(piece: Piece, action: str) -> str:
    if piece.cadre in DG_ONLY_ACTIONS:
        return DG_ONLY_MESSAGE
    if action == A.ISSUE_ETAT_ACOMPTE:
        return ISSUE_MESSAGE
    if referred_to_moa(piece):
        return REFERRED_MESSAGE
    return ETAT_ONLY_MESSAGES.get(piece.cadre or "", PDM_MESSAGE)


def allowed_actions_for(piece: Piece, structure: Structure,
                        holder_id: Any = records.HOLDER_UNKNOWN, facts: PageFacts | None = None
                        ) -> list[ActionChoice]:
    """The actions this structure may take now on the piece (the buttons of the piece page), in the table's order.
    Empty for a draft (its actions are update_draft / deposit) and for a structure that plays no part on it.
    The member also needs the modification right in the piece's domain (`rights_domain`): the view checks it.
    `holder_id`: the marché's holder when the caller read it already (a list of pieces: one query for all);
    `facts`: all a page's rows need, read once (`page_facts`) — with it, no query per piece."""
    if piece.is_draft:
        return []
    if facts is not None:
        carried = facts.carried
    else:
        carried = carried_pdms([piece.id]) if piece.cadre in T.PDM_CADRES else None
    # What the table offers is cached per (status, route, cadre, actors); what the piece's own facts take away
    # (a rejection already acknowledged, an action only an état or the décompte général takes) does not depend on
    # the actor, so it is taken away after: the same list, in the same order, as checking each actor's actions.
    return [choice for choice in _choices_in(piece.status, piece.route_steps, piece.cadre,
                                             tuple(records.actors_of(piece, structure.id, holder_id)))
            if not ((choice.action == A.ACKNOWLEDGE_REJECTION and _acknowledged(piece, facts))
                    or etat_only(piece, choice.action, carried, facts))]


@lru_cache(maxsize=4096)
def _choices_in(status: str, route_steps: tuple[str, ...], cadre: str | None, actors: tuple[str, ...]
                ) -> tuple[ActionChoice, ...]:
    """Every action the table lets these actors take in this status, each once with the first actor allowed, and
    what its form needs (pure: a page's rows share a few statuses and routes; building the choices of each row was
    a twentieth of the Synthèse's CPU, bench/page_cpu.py)."""
    choices: list[ActionChoice] = []
    seen: set[str] = set()
    for actor in actors:
        for action in T.allowed_actions(status, route_steps, actor, cadre=cadre):
            if action in seen:
                continue
            seen.add(action)
            choices.append(ActionChoice(
                action=action, label=T.ACTION_LABELS[action], actor_step=actor,
                reason=T.REASON_POLICY.get(action), reasons=_reasons(action, route_steps, cadre),
                amount=T.AMOUNT_POLICY.get(action), paid_on=action in T.PAID_ON_REQUIRED,
                files=FILES_POLICY.get(action), changes=RESEND_FIELDS if action == A.RESEND else ()))
    return tuple(choices)


def _actor_for(piece: Piece, actors: list[str], action: str) -> str:
    """The part this structure plays for this action (a structure may be MOA and paying office at once): the first
    of its actors allowed to take it, else its first (the table then explains who may)."""
    for actor in actors:
        if action in T.allowed_actions(piece.status, piece.route_steps, actor, cadre=piece.cadre):
            return actor
    return actors[0]


def _amount(value: Any, action: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    label = "Le montant payé" if action == A.MARK_PAID else "Le montant"
    try:
        return amount_rules.parse_amount(value, field="amount", label=label)
    except amount_rules.AmountRefused as error:
        raise OperationError(error.message_fr, field="amount") from None


def _paid_on(value: Any, now: datetime) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    day = drafts.parse_day(value, "paid_on", "la date de paiement")
    if day > today(now):
        raise OperationError("La date de paiement ne peut pas être dans le futur.", field="paid_on")
    return day


def act(piece_id: int, account: Account, structure: Structure, action: str, *, expected_status: str,
        reason: str | None = None, comment: str | None = None, amount: Any = None, paid_on: Any = None,
        files: Iterable[drafts.UploadedFile] = (), changes: Mapping[str, Any] | None = None,
        now: datetime, contest: bool | None = None) -> Piece:
    """Take `action` on a deposited piece as `structure` (one of the actions `allowed_actions_for` offers).

    The piece is locked (SELECT ... FOR UPDATE on PostgreSQL; its version guards SQLite) and must still be in
    `expected_status`, the status the user saw: otherwise OperationError "Cette pièce a déjà été traitée (statut
    actuel : …). Rechargez la page." — two users acting at the same instant make exactly one change. The part the
    structure plays is derived from the frozen route (or "emitter", "titulaire"); transitions.perform applies the
    table (French TransitionRefused → OperationError with its field); one hash-chained event per transition; clocks
    closed and opened; whoever must act next notified (in-app and e-mail, per preferences).

    Inputs by action (see ActionChoice): reason / comment; amount (str as typed, or Decimal) for
    validate_partially (less than claimed), issue_etat_acompte (admitted amount; a correction opens the emitter's 30
    days to contest — on a projet de décompte only through `issue_into_etat`), mark_paid (with paid_on, a date or "YYYY-MM-DD"); files (UploadedFile) for complete
    (required) and issue_etat_acompte; changes for resend ({"recipient_siret", "service_code",
    "engagement_number"}, nothing else, and checked like at the deposit). redirect_validator freezes the route
    again from the marché's chain as it is now (after the contractor was corrected). `contest` (issue_etat_acompte
    from an état built line by line, `operations.etats_acompte`): whether the MOE corrected this piece's figures,
    which alone opens the 30 days to contest; None keeps the rule "an amount other than the one claimed".
    Right needed: modification in the piece's domain ("travaux" for works pieces, else "emises" for the emitter and
    "recues" for the others)."""
    if action == A.DEPOSIT:
        return drafts.deposit(piece_id, account, structure, now=now)
    piece, actors = _load_acting(piece_id, structure, expected_status)
    if etat_only(piece, action):
        raise OperationError(_etat_only_message(piece, action))
    return _perform(piece, actors, action, account=account, structure=structure, reason=reason, comment=comment,
                    amount=amount, paid_on=paid_on, files=files, changes=changes, now=now, contest=contest)


def issue_into_etat(piece_id: int, etat: EtatAcompte, account: Account, structure: Structure, *,
                    expected_status: str, amount: Any, comment: str | None, contest: bool | None,
                    now: datetime) -> Piece:
    """The one way a projet de décompte leaves the MOE's desk for the MOA: inside the état d'acompte the MOE is
    issuing (`operations.etats_acompte.issue`, which attached the piece's décompte to that draft état under the
    marché's lock). There is no switch a caller can set to forward a PDM alone: the piece's décompte must belong
    to `etat`, a draft, or nothing moves — `act` refuses `issue_etat_acompte` on a PDM whoever asks. `amount`:
    what the état pays its beneficiary this month (the engine's figure); `contest`: whether the MOE corrected the
    piece's figures (which alone opens the 30 days to contest)."""
    piece, actors = _load_acting(piece_id, structure, expected_status)
    attached = db.session.scalar(select(Decompte.etat_acompte_id).where(Decompte.piece_id == piece.id))
    if piece.cadre not in T.PDM_CADRES or etat.status != "draft" or attached is None or attached != etat.id:
        raise OperationError(ISSUE_MESSAGE)
    return _perform(piece, actors, A.ISSUE_ETAT_ACOMPTE, account=account, structure=structure, reason=None,
                    comment=comment, amount=amount, paid_on=None, files=(), changes=None, now=now,
                    contest=contest)


def _load_acting(piece_id: int, structure: Structure, expected_status: str) -> tuple[Piece, list[str]]:
    """The piece, locked, still in the status the user saw, and the parts `structure` plays on it."""
    piece = records.load_for_update(piece_id)
    if piece is None:
        raise OperationError("Cette pièce n'existe pas ou vous n'y avez pas accès.")
    if piece.status != expected_status:
        raise records.already_processed(piece)
    if piece.is_draft:
        raise OperationError("Cette pièce n'est pas encore envoyée : envoyez-la d'abord.")
    actors = records.actors_of(piece, structure.id)
    if not actors:
        raise OperationError("Votre structure n'intervient pas sur cette pièce.")
    return piece, actors


def _perform(piece: Piece, actors: list[str], action: str, *, account: Account, structure: Structure,
             reason: str | None, comment: str | None, amount: Any, paid_on: Any,
             files: Iterable[drafts.UploadedFile], changes: Mapping[str, Any] | None, now: datetime,
             contest: bool | None) -> Piece:
    """Check the inputs, apply the transition table, record the events, move the clocks, tell who acts next."""
    actor = _actor_for(piece, actors, action)
    value = _amount(amount, action)
    day = _paid_on(paid_on, now)
    files = list(files)
    if action == A.VALIDATE_PARTIALLY and value is not None:
        try:
            value = amount_rules.check_partial_amount(value, piece.accepted_amount or piece.montant_ttc)
        except amount_rules.AmountRefused as error:
            raise OperationError(error.message_fr, field="amount") from None
    if action == A.MARK_PAID:
        # What is due is the amount the validators accepted (an état d'acompte's, computed by the money engine),
        # else the TTC asked for: nothing more is paid, and nothing before the piece was deposited.
        due = piece.accepted_amount if piece.accepted_amount is not None else piece.montant_ttc
        try:
            amount_rules.check_payment(value, due, day, today(piece.deposited_at) if piece.deposited_at else None)
        except amount_rules.AmountRefused as error:
            raise OperationError(error.message_fr, field=error.field) from None
    if action == A.ACKNOWLEDGE_REJECTION and _acknowledged(piece):
        raise OperationError("Vous avez déjà pris acte de ce refus.")
    if files and action not in FILES_POLICY:
        raise OperationError("Aucun fichier n'est attendu pour cette action.", field="files")
    if action == A.COMPLETE and not files:
        raise OperationError("Joignez les pièces demandées par le service financier.", field="files")
    if changes and action != A.RESEND:
        raise OperationError("Cette action ne modifie pas la pièce.")
    try:
        transitions = T.perform(piece.status, action, actor, piece.route_steps, reason=reason, comment=comment,
                                amount=value, paid_on=day, cadre=piece.cadre)
    except T.TransitionRefused as error:
        raise OperationError(error.message_fr, field=error.field) from None

    extra = _prepare(piece, action, transitions[0], account=account, structure=structure, files=files,
                     changes=changes or {}, now=now)
    for index, transition in enumerate(transitions):
        records.record_transition(piece, transition, account=account, structure=structure, now=now,
                                  extra=extra if index == 0 else None)
        piece.status = transition.to_status.value
        records.apply_clock_changes(piece, transition, now)
    corrected = (value is not None and value != piece.montant_ttc) if contest is None else contest
    if action == A.ISSUE_ETAT_ACOMPTE and corrected:
        # The MOE corrected the amounts: the titulaire has 30 days to contest them (CHORUS.md §4) [sure].
        records.close_clocks(piece, [clocks.CONTEST_MOE_CORRECTIONS], now)  # an earlier état's 30 days end here
        db.session.flush()
        records.open_clock(piece, clocks.CONTEST_MOE_CORRECTIONS, now)
    piece.updated_at = now
    records.flush_piece()
    if any(t.to_status != t.from_status for t in transitions):
        records.announce(piece, transitions, account=account, structure=structure, now=now)
    db.session.flush()
    return piece


def _prepare(piece: Piece, action: str, transition: T.Transition, *, account: Account, structure: Structure,
             files: list[drafts.UploadedFile], changes: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """The changes an action makes besides the status, before its events are recorded; returns the event's
    `extra` (what its hash covers beyond the status)."""
    if action == A.VALIDATE_PARTIALLY:
        piece.accepted_amount = transition.amount
        piece.accepted_why = amount_why.partial_record(transition.reason, transition.comment)
    elif action == A.ISSUE_ETAT_ACOMPTE and transition.amount is not None:
        piece.accepted_amount = transition.amount  # its why: the état's column (operations.etats_acompte.issue)
    elif action == A.MARK_PAID:
        piece.paid_on, piece.paid_amount = transition.paid_on, transition.amount
    elif action == A.RESEND:
        return _resend(piece, changes, now)
    elif action == A.REDIRECT_VALIDATOR:
        return _redirect(piece, now)
    if files:
        stored = drafts.add_files(piece, files, role=FILE_ROLE[action], account=account, now=now)
        return {"files": [{"name": row.name, "role": row.role, "sha256": row.sha256} for row in stored]}
    return None


def _resend(piece: Piece, changes: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A piece "à recycler" goes back under the same number: only its routing fields change, and they are checked
    as at the deposit (a piece still misrouted is refused before it leaves)."""
    unknown = sorted(set(changes) - set(RESEND_FIELDS))
    if unknown:
        raise OperationError("Seuls le SIRET du destinataire, le code service et le numéro d'engagement juridique "
                             "se corrigent avant de renvoyer la pièce ; le reste ne change pas.")
    raw = {name: getattr(piece, name) for name in RESEND_FIELDS}
    raw.update({name: value for name, value in changes.items()})
    fields = drafts.parse_routing(raw)
    before = {name: getattr(piece, name) for name in RESEND_FIELDS}
    if fields == before:
        raise OperationError("Corrigez le champ signalé (SIRET du destinataire, code service ou numéro "
                             "d'engagement) avant de renvoyer la pièce.", field="service_code")
    for name, value in fields.items():
        setattr(piece, name, value)
    problems: list[drafts.Problem] = []
    ctx = drafts.route_context(piece, problems)
    problems += drafts.routing_problems(piece, ctx, today(now))
    if problems:
        raise drafts.PreflightRefused(problems)
    return {"changes": {name: [before[name], fields[name]] for name in RESEND_FIELDS
                        if before[name] != fields[name]}}


def _redirect(piece: Piece, now: datetime) -> dict[str, Any]:
    """The validator said it is not the right one: the emitter had the chain corrected (its contractor) and sends
    the piece again to the validation step; the route is frozen again from the chain as it is now, and the new
    structures get their access rows."""
    problems: list[drafts.Problem] = []
    ctx = drafts.route_context(piece, problems)
    if not problems:
        problems += drafts.party_problems(piece, ctx)
    if problems:
        raise drafts.PreflightRefused(problems)
    route = drafts.frozen_route(ctx)
    if tuple(step["step"] for step in route) != piece.route_steps:
        raise OperationError("Le circuit de cette pièce a changé avec la chaîne du marché : émettez une nouvelle "
                             "pièce, avec un nouveau numéro.")
    before = [f"{step['step']}:{step['siret']}" for step in piece.route]
    piece.route = route
    holder = records.holder_structure_id(piece.marche_id)
    records.write_access(piece, records.grants(ctx.chain, piece.emitter_party_id, piece.cadre, route, holder), now)
    return {"route": {"before": before, "after": [f"{step['step']}:{step['siret']}" for step in route]}}


def system_act(piece: Piece, action: str, *, reason: str | None, now: datetime,
               applied_at: datetime | None = None, ctx=None) -> list[T.Transition]:
    """The platform's own action on a locked piece (a clock expired): recorded as done by the system at `now` — the
    deadline's due instant, from which the next clocks start — and, when the sweep came later, saying when it was
    `applied_at` (the event's `extra`; the announcements go out then). Raises TransitionRefused when the table does
    not allow it (the piece was answered in time). `ctx` (a `sweep.SweepContext`): the sweep's batch, which answers
    the reads and flushes once at its end."""
    transitions = T.perform(piece.status, action, T.SYSTEM, piece.route_steps, reason=reason, cadre=piece.cadre)
    extra = {"applied_at": applied_at.isoformat()} if applied_at is not None and applied_at != now else None
    for transition in transitions:
        records.record_transition(piece, transition, account=None, structure=None, now=now, extra=extra, ctx=ctx)
        piece.status = transition.to_status.value
        records.apply_clock_changes(piece, transition, now, ctx.clocks if ctx is not None else None)
    piece.updated_at = now
    if ctx is None:
        db.session.flush()
    records.announce(piece, transitions, account=None, structure=None, now=applied_at or now, ctx=ctx)
    return transitions


def who_acts(piece: Piece) -> list[int]:
    """The structures the piece waits on now (dashboards)."""
    step = T.current_step(piece.status)
    if step in (None, T.SYSTEM):
        return []
    return records.structures_playing(piece, step)

