"""The états d'acompte of a marché, built by its maître d'œuvre (issue 5, CHORUS.md §4 and §6).

The MOE opens the état n of a month (a draft), sees every projet de décompte of that month it has taken
(PRISE_EN_COMPTE_MOE, or still unanswered after its deadline), admits each line as claimed or corrects it (quantity,
percentage or amount, with a comment) and the extras (approvisionnements, primes, débours, réfactions), adds
penalties, and sees the engine's result at every step. Issuing it:

- locks the marché's row, then the état's (two MOE users issuing at once: one issues, the other is told);
- computes once more and freezes `result` (the engine's `to_dict()`: every column, every explanation line, and the
  cumulative state the next état starts from);
- links each décompte to the état, and takes the piece action `issue_etat_acompte` on each PDM with the amount payable
  to its beneficiary this month;
- when the MOE corrected a figure, opens the depositor's 30 days to contest (`contest_until`, and the piece's clock
  `contest_moe_corrections`) — an amount disagreement is never a reason to refuse a works piece (CHORUS.md §4).

A DC4 ceiling overrun, a missing index, parts that do not add up: the engine's French message, nothing issued.
Who sees what: the MOE, the MOA, the paying office and the titulaire/mandataire see the whole état; a co-traitant or
a sous-traitant only its own part and its own payable (`visible_result`). Only the MOE changes and issues.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, or_, select

from chorus_chain.domain import amount_why
from chorus_chain.domain import money as engine
from chorus_chain.domain import dates as date_rules
from chorus_chain.domain import text as text_rules
from chorus_chain.domain.decimals import DecimalRefused, read_decimal
from chorus_chain.domain.money.rounding import month_fr, of_month_fr
from chorus_chain.domain.statuses import Status
from chorus_chain import graph
from chorus_chain.extensions import db
from chorus_chain.graph import Role
from chorus_chain.models import Account, Marche, MarcheParty, Piece, Structure
from chorus_chain.models.money import Decompte, DecompteLine, EtatAcompte, IndexValue, MarchePenalty
from chorus_chain.operations import OperationError
from chorus_chain.operations import money as adapter
from chorus_chain.operations.interets.reading import carried_into_final
from chorus_chain.operations import pieces_actions
from chorus_chain.operations.etat_pieces import pieces as etat_pieces
from chorus_chain.operations.marches import MarcheAccess, record, today

# The PDM statuses the MOE builds its état from: taken, or still waiting after its deadline (it may still answer).
TAKEN = (Status.PRISE_EN_COMPTE_MOE.value, Status.ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE.value)
# Who sees the whole état: the public side and the holder (a co-traitant or sous-traitant sees its own part only).
FULL_VIEW_ROLES = (Role.MOA, Role.MOE, Role.PAYING_OFFICE, Role.TITULAIRE, Role.MANDATAIRE)
RECEPTION_FIRST = ("Le maître d'ouvrage doit d'abord enregistrer la date de réception des travaux (page du marché) : "
                   "le décompte général en dépend, comme la libération de la retenue de garantie.")
CONTEST_DAYS = 30  # the titulaire's days to contest the MOE's corrections (CHORUS.md §4) [sure]
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
CENT = Decimal("0.01")
EXTRAS = ("approvisionnements", "primes", "debours", "refactions")
EXTRA_LABELS = {"approvisionnements": "Approvisionnements", "primes": "Primes", "debours": "Débours",
                "refactions": "Réfactions"}


# ---------------------------------------------------------------------------------------------------------------------
# Who may do what


def is_moe(access: MarcheAccess) -> bool:
    return Role.MOE in access.own_roles()


def sees_whole(access: MarcheAccess) -> bool:
    return bool(access.own_roles() & set(FULL_VIEW_ROLES))


def own_keys(access: MarcheAccess) -> set[int]:
    return {row.id for row in access.own}


def require_moe(access: MarcheAccess) -> None:
    if not is_moe(access):
        raise OperationError("Seul le maître d'œuvre du marché établit les états d'acompte.")


# ---------------------------------------------------------------------------------------------------------------------
# Reading


def etats_of(marche: Marche) -> list[EtatAcompte]:
    return list(db.session.scalars(select(EtatAcompte).where(EtatAcompte.marche_id == marche.id)
                                   .order_by(EtatAcompte.number.desc(), EtatAcompte.suffix.desc())))


def get_etat(marche: Marche, etat_id: int, *, lock: bool = False) -> EtatAcompte | None:
    query = select(EtatAcompte).where(EtatAcompte.id == etat_id, EtatAcompte.marche_id == marche.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalar(query)


@dataclass
class Pdm:
    """One projet de décompte of the état: its piece, its décompte (with lines) and the depositor's party row."""

    piece: Piece
    decompte: Decompte
    party: MarcheParty

    @property
    def corrected(self) -> bool:
        """The MOE admitted something other than what was claimed (a line or an extra)."""
        d = self.decompte
        return any(line.difference != 0 for line in d.lines) or any(
            getattr(d, f"admitted_{name}") is not None and getattr(d, f"admitted_{name}") != getattr(d, name)
            for name in EXTRAS)


def pdms_of(etat: EtatAcompte) -> list[Pdm]:
    """The projets de décompte of the état: those linked to it, and, while it is a draft, those the MOE has taken
    and no issued état used yet, of its month or of an earlier one. Pieces are read under the tenant's access (a
    company sees the lines of the pieces it may see).

    Why an earlier month too: a projet de décompte is a payment request, and the délai global de paiement runs from
    its receipt by the MOE (R2192-10 and following of the code de la commande publique; CCAG Travaux 2021 art. 12.2)
    whatever the month it reports. One that reaches the MOE after the état of its month was issued would otherwise
    wait for no état at all (a later état may not go back to its month: `open_etat`) while its deadline runs. It is
    cumulative since the start of the marché, so the current état takes it as it is: its figures are the
    beneficiary's works to date. When the same company also sent the projet of a later month, the latest one
    carries the figures (it includes the earlier), and the earlier goes into the état with it, settled without an
    amount of its own (`counted_pdms`)."""
    linked = Decompte.etat_acompte_id == etat.id
    if etat.status == "draft":
        linked = or_(linked, and_(Decompte.etat_acompte_id.is_(None), Decompte.month <= etat.month,
                                  Decompte.final.is_(etat.final), Piece.status.in_(TAKEN)))
    rows = db.session.execute(
        select(Decompte.id, Piece, MarcheParty).join(Piece, Piece.id == Decompte.piece_id)
        .join(MarcheParty, MarcheParty.id == Decompte.party_id)
        .where(Decompte.marche_id == etat.marche_id, linked).order_by(MarcheParty.id, Decompte.id)).all()
    decomptes = {d.id: d for d in adapter.load_decomptes(row[0] for row in rows)}
    return [Pdm(piece, decomptes[decompte_id], party) for decompte_id, piece, party in rows]


def counted_pdms(pdms, owner_of) -> set[int]:
    """The ids of the décomptes whose figures an état counts: for each beneficiary (`owner_of(pdm)`), its latest
    projet de décompte — of the latest month, then the last entered (`money.decompte_of` keeps the same one).
    Projets de décompte are cumulative since the start: the latest includes the earlier ones."""
    latest: dict[int, Pdm] = {}
    for pdm in pdms:
        owner = owner_of(pdm)
        kept = latest.get(owner)
        if kept is None or (pdm.decompte.month, pdm.decompte.id) > (kept.decompte.month, kept.decompte.id):
            latest[owner] = pdm
    return {pdm.decompte.id for pdm in latest.values()}


def penalties_for(etat: EtatAcompte) -> list[MarchePenalty]:
    """Every penalty counted by this état: those of the issued états before it, and its own (cumulative)."""
    return list(db.session.scalars(
        select(MarchePenalty).join(EtatAcompte, EtatAcompte.id == MarchePenalty.etat_acompte_id)
        .where(MarchePenalty.marche_id == etat.marche_id,
               or_(MarchePenalty.etat_acompte_id == etat.id,
                   and_(EtatAcompte.status == "issued", EtatAcompte.number < etat.number)))
        .order_by(MarchePenalty.id)))


@dataclass
class Computation:
    """The engine's inputs and result for one état (or the French refusal that stopped it)."""

    beneficiaries: list[engine.Beneficiary]
    pdms: list[Pdm]
    result: engine.EtatAcompte | None
    error: OperationError | None
    dgd: engine.Dgd | None = None  # the final état: the décompte général's reconciliation

    def to_dict(self) -> dict | None:
        if self.dgd is not None:
            return self.dgd.to_dict()
        return self.result.to_dict() if self.result else None


def compute(marche: Marche, etat: EtatAcompte) -> Computation:
    """Run the engine on the état's current inputs. A refusal (missing index, DC4 overrun, parts that do not add
    up...) is returned, not raised: the MOE's page shows it next to the lines it must fix."""
    pdms = pdms_of(etat)
    beneficiaries: list[engine.Beneficiary] = []
    try:
        beneficiaries = adapter.beneficiaries_of(marche)
        terms = adapter.terms_of(marche, beneficiaries)
        decompte = adapter.decompte_of(marche, etat.number, etat.month, [p.decompte for p in pdms],
                                       penalties_for(etat), beneficiaries)
        previous = adapter.previous_state(marche, before_number=etat.number)
        index = adapter.index_table_of(marche)
        if etat.final:
            if marche.reception_on is None:
                raise OperationError(RECEPTION_FIRST)
            # The interest of late acomptes the buyer has not paid is carried into the final (issue 16).
            dgd = engine.compute_dgd(terms, beneficiaries, decompte, previous, index, reception=marche.reception_on,
                                     guarantee_months=marche.guarantee_months,
                                     unpaid_interest=carried_into_final(marche.id))
            return Computation(beneficiaries, pdms, dgd.etat, None, dgd)
        result = engine.compute_etat_acompte(terms, beneficiaries, decompte, previous, index)
    except OperationError as error:
        return Computation(beneficiaries, pdms, None, error)
    except engine.MoneyError as error:
        return Computation(beneficiaries, pdms, None, adapter.refusal(error))
    return Computation(beneficiaries, pdms, result, None)


def result_of(marche: Marche, etat: EtatAcompte) -> tuple[dict | None, OperationError | None, list[Pdm]]:
    """The état as a dict (the frozen one once issued, else computed now), the refusal if any, and its PDMs."""
    if etat.status == "issued":
        return etat.result, None, pdms_of(etat)
    computation = compute(marche, etat)
    return computation.to_dict(), computation.error, computation.pdms


def visible_result(result: dict | None, access: MarcheAccess) -> dict | None:
    """What this structure may see of an état: everything for the MOE, the MOA, the paying office and the holder;
    a co-traitant or a sous-traitant sees its own beneficiary part, its own payable and its own corrections — not
    the marché's totals nor its neighbours' figures."""
    if result is None or sees_whole(access):
        return result
    mine = own_keys(access)
    # An explanation line may name a neighbour (a sous-traitant's retenue is explained from its contractor's whole
    # part): such lines are left out. The companies below the viewer stay (it validates their décomptes anyway).
    allowed = set(mine)
    for key in mine:
        if access.chain is not None and key in access.chain.parties:
            allowed.update(p.key for p in graph.descendants(access.chain, key))
    hidden = [b["name"] for b in result["beneficiaries"] if b["key"] not in allowed]

    def shown(line: dict) -> bool:
        texts = [line["label"], *(op["name"] for op in line["operands"])]
        return not any(name in text for name in hidden for text in texts)

    def beneficiary(b: dict) -> dict:
        columns = {name: {**column, "lines": [line for line in column["lines"] if shown(line)]}
                   for name, column in b["columns"].items()}
        avance = {**b["avance"], "lines": [line for line in b["avance"]["lines"] if shown(line)]}
        return {**b, "columns": columns, "avance": avance}

    dgd = result.get("dgd")
    return {
        **{k: v for k, v in result.items() if k not in ("marche", "state", "dgd", "remaining")},
        "marche": None,
        **({"dgd": {"marche": None, "beneficiaries": [b for b in dgd["beneficiaries"] if b["key"] in mine]}}
           if dgd else {}),
        "beneficiaries": [beneficiary(b) for b in result["beneficiaries"] if b["key"] in mine],
        "payables": [{**p, "lines": [line for line in p["lines"] if shown(line)]}
                     for p in result["payables"] if p["payee_key"] in mine],
        "corrections": [c for c in result["corrections"] if c["key"] in mine],
    }


def visible_pdms(pdms: list[Pdm], access: MarcheAccess) -> list[Pdm]:
    if sees_whole(access):
        return pdms
    mine = own_keys(access)
    return [p for p in pdms if p.party.id in mine]


def payable_of(result: dict | None, key: int) -> Decimal | None:
    """This acompte's amount payable to the payee `key` (None when it receives nothing directly)."""
    if not result:
        return None
    found = next((p for p in result["payables"] if p["payee_key"] == key), None)
    return Decimal(found["this"]) if found else None


# ---------------------------------------------------------------------------------------------------------------------
# The MOE's changes


def _check_month(value: Any, now: datetime, what: str) -> str:
    """A month of works or of an index, "AAAA-MM": not in a future month (no work is done, no index published
    ahead of time; the current month is allowed: its état is drawn up at its end)."""
    month = (value or "").strip() if isinstance(value, str) else ""
    if not MONTH.match(month):
        raise OperationError("Indiquez le mois des travaux au format AAAA-MM (par exemple 2026-03).", field="month")
    problem = date_rules.month_problem(month)
    if problem:
        raise OperationError(problem, field="month")
    if date_rules.months_ahead(month, today(now)) > 0:
        raise OperationError(f"{what} ne peut pas porter sur un mois à venir ({month_fr(month)}).", field="month")
    return month


def _lock_marche(marche_id: int) -> Marche:
    """The marché's row, locked for this transaction (PostgreSQL): états are numbered and issued one at a time."""
    marche = db.session.get(Marche, marche_id, with_for_update=True, populate_existing=True)
    if marche is None:
        raise OperationError("Ce marché n'existe pas.")
    return marche


def open_etat(access: MarcheAccess, account: Account, structure: Structure, month: Any, *,
              now: datetime, final: bool = False) -> EtatAcompte:
    """Open the draft of the next état (n = last + 1) for a month of works. One draft at a time; the month may not
    precede the last issued état's.

    `final`: the état of the décompte général (projet de décompte général of the MOE, CHORUS.md §3 "End of
    contract"), built from the projets de décompte finals (A7, A14) once the MOA recorded the réception; the engine
    then repays the advance in full, needs definitive indexes and reconciles every beneficiary to the cent
    (`compute_dgd`). Nothing comes after it."""
    require_moe(access)
    if access.marche.kind != "travaux":
        raise OperationError("Les états d'acompte ne concernent que les marchés de travaux.")
    month = _check_month(month, now, "Un état d'acompte")
    marche = _lock_marche(access.marche.id)
    existing = etats_of(marche)
    closing = next((e for e in existing if e.final), None)
    if closing is not None:
        raise OperationError(f"Le décompte général de ce marché est déjà ouvert (état n° {closing.number}) : plus "
                             "aucun état d'acompte ne peut suivre.", field="month")
    if final and marche.reception_on is None:
        raise OperationError(RECEPTION_FIRST, field="month")
    draft = next((e for e in existing if e.status == "draft"), None)
    if draft is not None:
        raise OperationError(f"L'état d'acompte n° {draft.number} ({month_fr(draft.month)}) est en préparation : "
                             "émettez-le avant d'en ouvrir un autre.", field="month")
    issued = [e for e in existing if e.status == "issued"]
    if issued and month < issued[0].month:
        raise OperationError(f"Le dernier état émis porte sur {month_fr(issued[0].month)} : le suivant ne peut "
                             "porter sur un mois antérieur.", field="month")
    number = (existing[0].number if existing else 0) + 1
    etat = EtatAcompte(marche_id=marche.id, number=number, month=month, status="draft", final=final,
                       created_by_id=account.id, created_at=now)
    db.session.add(etat)
    db.session.flush()
    record(marche, "etat_acompte_opened", account=account, structure=structure, number=number, month=month,
           final=final)
    return etat


def _draft(access: MarcheAccess, etat: EtatAcompte) -> None:
    require_moe(access)
    if etat.status != "draft":
        raise OperationError(f"L'état d'acompte n° {etat.number} est émis : il ne change plus.")


def _pdm_of_line(etat: EtatAcompte, line_id: Any) -> tuple[Pdm, DecompteLine]:
    for pdm in pdms_of(etat):
        for line in pdm.decompte.lines:
            if str(line.id) == str(line_id):
                return pdm, line
    raise OperationError("Cette ligne ne fait pas partie des projets de décompte de cet état.")


def parse_decimal(value: Any, field: str, label: str, *, places: int = 2, allow_none: bool = True) -> Decimal | None:
    """A number as typed in French ("1 234,5") or already a Decimal; ≥ 0, at most `places` decimals."""
    try:
        number = read_decimal(value, places)
    except DecimalRefused as refused:
        raise OperationError(f"{label} : valeur {refused.reason_fr}.", field=field) from None
    if number is None:
        if allow_none:
            return None
        raise OperationError(f"{label} : indiquez une valeur.", field=field)
    if number < 0:
        raise OperationError(f"{label} : une valeur négative n'est pas admise (une moins-value s'inscrit en "
                             "réfaction).", field=field)
    return number


def admit_line(access: MarcheAccess, etat: EtatAcompte, line_id: Any, *, quantity: Any = None, percent: Any = None,
               amount: Any = None, comment: str | None = None, as_claimed: bool = False) -> DecompteLine:
    """The MOE admits one line as claimed (`as_claimed`: its corrections are removed) or corrects it: an admitted
    quantity (unit-price line: × unit price, rounded once), a percentage (lump-sum line: × the line's amount,
    rounded once), or an amount typed directly. A correction needs a comment: the titulaire reads why."""
    _draft(access, etat)
    _, line = _pdm_of_line(etat, line_id)
    if as_claimed:
        line.admitted_quantity = line.admitted_percent = line.admitted_amount_ht = line.moe_comment = None
        db.session.flush()
        return line
    price = line.price_line
    q = parse_decimal(quantity, "quantity", "Quantité admise", places=3)
    p = parse_decimal(percent, "percent", "Avancement admis", places=3)
    a = parse_decimal(amount, "amount", "Montant admis")
    if p is not None and p > 100:
        raise OperationError("Avancement admis : 100 % au plus.", field="percent")
    if a is None:
        if q is not None and not price.lump_sum:
            a = (q * Decimal(price.unit_price_ht)).quantize(CENT, rounding=ROUND_HALF_UP)
        elif p is not None and price.lump_sum:
            a = (p * Decimal(price.amount_ht) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        else:
            field = "percent" if price.lump_sum else "quantity"
            what = "un avancement (%)" if price.lump_sum else "une quantité"
            raise OperationError(f"Indiquez {what} ou un montant admis.", field=field)
    text = (comment or "").strip()
    if a != line.amount_ht and not text:
        raise OperationError("Expliquez la correction en quelques mots : le titulaire lit ce commentaire et peut la "
                             "contester pendant 30 jours.", field="comment")
    if len(text) > 500:
        raise OperationError("Commentaire : 500 caractères au plus.", field="comment")
    problem = text_rules.text_problem(text, multiline=True)  # read as posted (no form class): checked here
    if problem:
        raise OperationError(f"Commentaire : {problem[0].lower()}{problem[1:]}", field="comment")
    line.admitted_quantity = q if not price.lump_sum else None
    line.admitted_percent = p if price.lump_sum else None
    line.admitted_amount_ht = a
    line.moe_comment = text or None
    db.session.flush()
    return line


def admit_extras(access: MarcheAccess, etat: EtatAcompte, decompte_id: Any, values: dict[str, Any]) -> Decompte:
    """The MOE's admitted approvisionnements, primes, débours and réfactions of one décompte (empty: as claimed)."""
    _draft(access, etat)
    pdm = next((p for p in pdms_of(etat) if str(p.decompte.id) == str(decompte_id)), None)
    if pdm is None:
        raise OperationError("Ce projet de décompte ne fait pas partie de cet état.")
    for name in EXTRAS:
        value = parse_decimal(values.get(name), name, EXTRA_LABELS[name])
        setattr(pdm.decompte, f"admitted_{name}", value)
    db.session.flush()
    return pdm.decompte


def add_penalty(access: MarcheAccess, etat: EtatAcompte, account: Account, *, party_id: Any, label: str | None,
                days: Any = None, amount: Any = None) -> MarchePenalty:
    """A penalty on a beneficiary: days late (at the marché's daily rate) or a fixed amount (CCAP), one of the two."""
    _draft(access, etat)
    keys = {b.key for b in adapter.beneficiaries_of(access.marche, check=False)}
    try:
        party = int(party_id)
    except (TypeError, ValueError):
        party = None
    if party not in keys:
        raise OperationError("Choisissez l'entreprise à qui la pénalité s'applique.", field="party_id")
    text = (label or "").strip()
    if not text:
        raise OperationError("Indiquez le motif de la pénalité (par exemple « retard sur le lot 2 »).", field="label")
    if len(text) > 200:
        raise OperationError("Motif : 200 caractères au plus.", field="label")
    problem = text_rules.text_problem(text)
    if problem:
        raise OperationError(f"Motif : {problem[0].lower()}{problem[1:]}", field="label")
    day_count = parse_decimal(days, "days", "Jours de retard", places=0)
    value = parse_decimal(amount, "amount", "Montant de la pénalité")
    if (day_count is None) == (value is None):
        raise OperationError("Indiquez soit un nombre de jours de retard, soit un montant forfaitaire.", field="days")
    row = MarchePenalty(marche_id=etat.marche_id, party_id=party, etat_acompte_id=etat.id, label=text,
                        days=int(day_count) if day_count is not None else None, amount=value,
                        created_by_id=account.id)
    db.session.add(row)
    db.session.flush()
    return row


def remove_penalty(access: MarcheAccess, etat: EtatAcompte, penalty_id: Any) -> None:
    _draft(access, etat)
    row = db.session.scalar(select(MarchePenalty).where(MarchePenalty.etat_acompte_id == etat.id,
                                                        MarchePenalty.id == _int(penalty_id)))
    if row is None:
        raise OperationError("Cette pénalité n'appartient pas à cet état.")
    db.session.delete(row)
    db.session.flush()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def issue(access: MarcheAccess, etat_id: int, account: Account, structure: Structure, *, now: datetime
          ) -> EtatAcompte:
    """Issue the état (see the module docstring). Locks the marché, then the état: a second MOE user issuing at the
    same instant waits, then is told it is already issued."""
    require_moe(access)
    marche = _lock_marche(access.marche.id)
    etat = get_etat(marche, etat_id, lock=True)
    if etat is None:
        raise OperationError("Cet état d'acompte n'existe pas.")
    if etat.status != "draft":
        raise OperationError(f"L'état d'acompte n° {etat.number} a déjà été émis. Rechargez la page.")
    computation = compute(marche, etat)
    if computation.error is not None:
        raise computation.error
    if not computation.pdms and etat.final:
        raise OperationError("Aucun projet de décompte final pris en compte : prenez en compte le projet de décompte "
                             "final du titulaire (et ceux des co-traitants) avant d'établir le décompte général.")
    if not computation.pdms:
        raise OperationError(f"Aucun projet de décompte {of_month_fr(etat.month)} pris en compte : prenez en "
                             "compte les projets de décompte du mois avant d'émettre l'état.")
    result = computation.to_dict()
    waiting = db.session.scalar(select(EtatAcompte).where(EtatAcompte.marche_id == marche.id,
                                                          EtatAcompte.status == "draft",
                                                          EtatAcompte.number < etat.number))
    if waiting is not None:
        raise OperationError(f"L'état d'acompte n° {waiting.label}, renvoyé par le maître d'ouvrage, est à émettre "
                             f"de nouveau avant l'état n° {etat.label} : celui-ci part de ses montants cumulés.")
    payees = {b["key"]: b["payee_key"] for b in result["beneficiaries"]}
    columns_of = {b["key"]: b for b in result["beneficiaries"]}
    carried = []
    corrected_any = False
    keys = [b.key for b in computation.beneficiaries]
    counted = counted_pdms(computation.pdms, lambda pdm: adapter.paid_through(access.chain, pdm.party.id, keys))
    for pdm in computation.pdms:
        # The piece carries what its beneficiary is due this month (its payable, unless a groupement solidaire is
        # paid through its mandataire) — the one whose figures the état counted; an earlier projet of the same
        # company, included in that later cumulative one, goes into the état without an amount.
        beneficiary = adapter.paid_through(access.chain, pdm.party.id, keys)
        payable = computation.result.beneficiary(beneficiary).columns.amount_due.this
        if pdm.decompte.id not in counted:
            payable = Decimal("0.00")
        corrected = pdm.corrected and pdm.decompte.id in counted
        corrected_any = corrected_any or corrected
        pdm.decompte.etat_acompte_id = etat.id
        carried.append((pdm.piece, payees.get(beneficiary)))
        pieces_actions.issue_into_etat(
            pdm.piece.id, etat, account, structure, expected_status=pdm.piece.status,
            amount=payable if payable > 0 else None,
            comment=(f"Projet de décompte général (état final n° {etat.label})" if etat.final
                     else f"État d'acompte n° {etat.label} ({month_fr(etat.month)})"
                     + ("" if pdm.decompte.id in counted else
                        " — repris par le projet de décompte plus récent de la même entreprise (cumulatif)")),
            now=now, contest=corrected)
        if payable > 0:
            # Why the piece is paid another amount than it asked: this company's column of the état (pages show it).
            paid_by = columns_of[beneficiary]
            pdm.piece.accepted_why = amount_why.etat_record(
                etat_id=etat.id, marche_id=marche.id, label=etat.label, month=etat.month, final=etat.final,
                columns=paid_by["columns"], beneficiary_key=beneficiary, beneficiary_name=paid_by["name"],
                corrected=corrected)
    etat.result = result
    etat.status = "issued"
    etat.issued_at = now
    etat.issued_by_id = account.id
    if corrected_any:
        etat.contest_until = today(now) + timedelta(days=CONTEST_DAYS)
    db.session.flush()
    if etat.final:
        # The final état travels as the MOE's projet de décompte général (A17), which the MOE establishes from it
        # once issued (`operations.decompte_general`): never as an acompte (A15), whose validation would pay the
        # solde before the titulaire signed the décompte général.
        etat_pieces.link_pdms(etat, carried, now=now)
    else:
        # The état travels as a piece of its own (A15) to the MOA, carrying its projets de décompte (issue 12).
        etat_pieces.deposit_a15(marche, etat, carried, account=account, structure=structure, now=now)
    record(marche, "etat_acompte_issued", account=account, structure=structure, number=etat.label,
           month=etat.month, amount_due=result["marche"]["amount_due"]["this"],
           corrected=corrected_any)
    return etat


# ---------------------------------------------------------------------------------------------------------------------
# Index values


def index_values(marche: Marche) -> list[IndexValue]:
    return list(db.session.scalars(select(IndexValue).where(IndexValue.marche_id == marche.id)
                                   .order_by(IndexValue.month.desc())))


def set_index_value(access: MarcheAccess, account: Account, structure: Structure, month: Any, value: Any,
                    definitive: bool, *, now: datetime) -> IndexValue:
    """The MOE enters the marché's index value of a month, provisional or definitive (a new value for a month
    already used trues up its revision in the next état). Every change is logged in the marché's events."""
    require_moe(access)
    marche = access.marche
    if not marche.has_revision:
        raise OperationError("Ce marché est à prix fermes : il n'a pas d'indice de révision.")
    month = _check_month(month, now, "La valeur de l'indice")
    number = parse_decimal(value, "value", f"Valeur de l'indice {marche.revision_index}", places=4,
                           allow_none=False)
    if number == 0:
        raise OperationError("La valeur de l'indice doit être positive.", field="value")
    if number >= Decimal("100000000"):
        raise OperationError("La valeur de l'indice est trop grande.", field="value")
    row = db.session.scalar(select(IndexValue).where(IndexValue.marche_id == marche.id, IndexValue.month == month)
                            .with_for_update())
    before = None if row is None else {"value": str(row.value), "definitive": row.definitive}
    if row is None:
        row = IndexValue(marche_id=marche.id, month=month, value=number, definitive=bool(definitive),
                         updated_by_id=account.id, updated_at=now)
        db.session.add(row)
    else:
        if row.definitive and not definitive:
            raise OperationError(f"La valeur de {month_fr(month)} est définitive : elle ne redevient pas "
                                 "provisoire. Corrigez-la en la laissant définitive.", field="definitive")
        row.value, row.definitive, row.updated_by_id, row.updated_at = number, bool(definitive), account.id, now
    db.session.flush()
    record(marche, "index_value_set", account=account, structure=structure, index=marche.revision_index,
           month=month, value=str(number), definitive=bool(definitive), before=before)
    return row


# ---------------------------------------------------------------------------------------------------------------------
# The export


def piece_decompte(result: dict, beneficiary_key: int) -> dict[str, Any]:
    """The `decompte` of one PDM in the marché export: the issued état's figures for the piece's beneficiary (its
    columns to date / previous / this acompte with every explanation line), what it is paid, and the MOE's
    corrections of its figures — the lines the état page shows."""
    beneficiary = next(b for b in result["beneficiaries"] if b["key"] == beneficiary_key)
    payable = next((p for p in result["payables"] if p["payee_key"] == beneficiary["payee_key"]), None)
    return {
        "kind": result["kind"],
        "number": result["number"],
        "month": result["month"],
        "beneficiary": beneficiary,
        "payable": payable,
        "corrections": [c for c in result["corrections"] if c["key"] == beneficiary_key],
    }


def piece_decomptes(marche: Marche, piece_ids: list[int]) -> dict[int, dict[str, Any]]:
    """piece id → its `decompte` export object, for the pieces whose décompte an issued état includes (two
    queries; the chain is the request's)."""
    if not piece_ids:
        return {}
    rows = db.session.execute(
        select(Decompte.piece_id, Decompte.party_id, EtatAcompte.result)
        .join(EtatAcompte, EtatAcompte.id == Decompte.etat_acompte_id)
        .where(Decompte.piece_id.in_(piece_ids), EtatAcompte.status == "issued")).all()
    if not rows:
        return {}
    from chorus_chain.operations import chain as chain_ops

    chain = chain_ops.chain_of(marche)
    found = {}
    for piece_id, party_id, result in rows:
        keys = [b["key"] for b in result["beneficiaries"]]
        key = adapter.paid_through(chain, party_id, keys) if party_id in chain.parties else None
        if key is not None:
            found[piece_id] = piece_decompte(result, key)
    return found
