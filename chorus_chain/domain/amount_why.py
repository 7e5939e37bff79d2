"""Why the amount to pay differs from the amount requested: one rule for every page that shows a piece's amount.

A piece carries two figures: the TTC its emitter asked for (`montant_ttc`) and, once someone decided otherwise, the
amount accepted (`accepted_amount`: what is paid). They differ for a few reasons only, each decided at one place:
- a partial validation by the donneur d'ordre, with its reason (the piece's history);
- an état d'acompte of the maître d'œuvre, which pays a projet de décompte what the engine computed for its company
  this month: the TTC admitted (after the MOE's corrections, with the autoliquidated VAT of the sous-traitants the
  company carries), less the retenue de garantie, the repayment of the advance and the penalties (the état's column
  of that company);
- the pieces the état travels as (A15, A19, and the décompte général's A17, A20, A8), whose amount to pay is the
  marché's column of the same état.

Why stored, not looked up: the figures are the engine's, frozen with the état (rule 2: a page never recomputes
money), and the decision is written on the piece when it is taken (`record` builders below, called by the operation
that sets `accepted_amount`), so that a list of fifty pieces explains each of them from its row alone — no query per
row, none per page. `explain` turns the stored record into what a page says: the two amounts, the steps from one to
the other (each an engine figure), a sentence, and the place that decided it (a URL target the page builds).
Pure: no Flask, no database.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

PARTIAL = "partial"  # validation partielle by the donneur d'ordre
ETAT = "etat"  # the état d'acompte (or the décompte général) of the maître d'œuvre

# The columns of an état (domain.money.etat_acompte.COLUMN_LABELS) that take a piece from the TTC admitted to the
# amount due, with their sign: what the engine deducted, and the advance it paid in this état.
DEDUCTIONS = (("retenue", "Retenue de garantie", -1), ("avance_repayment", "Remboursement de l'avance", -1),
              ("penalties", "Pénalités", -1), ("avance_paid", "Avance versée", 1))
KEPT_COLUMNS = ("ttc", "revision", "amount_due") + tuple(name for name, _label, _sign in DEDUCTIONS)


@dataclass(frozen=True)
class Step:
    """One engine figure on the way from the amount requested to the amount to pay (signed: a deduction < 0)."""

    label: str
    amount: Decimal


@dataclass(frozen=True)
class Target:
    """Where the decision was taken: a Flask endpoint, its arguments and the anchor of the line on that page."""

    endpoint: str
    params: Mapping[str, Any]
    anchor: str | None
    label: str


@dataclass(frozen=True)
class AmountWhy:
    requested: Decimal
    accepted: Decimal | None  # None: nobody decided another amount, the amount requested is the one to pay
    reason: str = ""  # one French sentence, empty when the two amounts agree
    steps: tuple[Step, ...] = field(default=())
    target: Target | None = None
    accepted_label: str = "Montant accepté"  # « Montant à payer » when an état computed it

    @property
    def to_pay(self) -> Decimal:
        return self.requested if self.accepted is None else self.accepted

    @property
    def differs(self) -> bool:
        return self.accepted is not None and self.accepted != self.requested


# --- What the operation stores when it decides (Piece.accepted_why) -------------------------------------------------

def partial_record(reason: str | None, comment: str | None) -> dict[str, Any]:
    """A partial validation: its reason and comment, as the donneur d'ordre gave them."""
    return {"source": PARTIAL, "reason": reason or "", "comment": comment or ""}


def etat_record(*, etat_id: int, marche_id: int, label: str, month: str | None, final: bool,
                columns: Mapping[str, Any], beneficiary_key: Any = None, beneficiary_name: str | None = None,
                corrected: bool = False) -> dict[str, Any]:
    """An état's decision: the this-month figures of the column that paid the piece (a company's, or the marché's
    when `beneficiary_key` is None), as the engine froze them (`columns`: the result's column dicts or plain
    strings), and whether the MOE corrected that company's claim."""
    figures = {}
    for name in KEPT_COLUMNS:
        value = columns.get(name)
        if isinstance(value, Mapping):
            value = value.get("this")
        figures[name] = str(value if value is not None else "0.00")
    return {"source": ETAT, "etat_id": etat_id, "marche_id": marche_id, "label": label, "month": month,
            "final": final, "key": beneficiary_key, "name": beneficiary_name, "figures": figures,
            "corrected": corrected}


# --- What a page says --------------------------------------------------------------------------------------------------

def explain(requested: Decimal, accepted: Decimal | None, record: Mapping[str, Any] | None, *,
            piece_id: int) -> AmountWhy:
    """The two amounts of a piece, and why they differ with the place that decided it."""
    if accepted is None or accepted == requested:
        return AmountWhy(requested, accepted)
    source = (record or {}).get("source")
    if source == ETAT:
        return _from_etat(requested, accepted, record)
    if source == PARTIAL:
        reason = record.get("reason") or ""
        comment = record.get("comment") or ""
        said = f" : « {reason.rstrip(' .')} »" if reason else ""
        said += f" ({comment.rstrip(' .')})" if comment and comment != reason else ""
        return AmountWhy(requested, accepted, f"Validée partiellement par le donneur d'ordre{said}.",
                         target=Target("pieces.show", {"piece_id": piece_id}, "piece-timeline",
                                       "la décision dans l'historique"))
    # A decision taken before the reasons were stored: the history holds it.
    return AmountWhy(requested, accepted, "Montant accepté différent du montant demandé.",
                     target=Target("pieces.show", {"piece_id": piece_id}, "piece-timeline",
                                   "la décision dans l'historique"))


def _from_etat(requested: Decimal, accepted: Decimal, record: Mapping[str, Any]) -> AmountWhy:
    figures = {name: Decimal(value) for name, value in (record.get("figures") or {}).items()}
    company = record.get("key") is not None
    ttc = figures.get("ttc", requested)
    steps = []
    if ttc != requested:
        steps.append(Step("Montant TTC admis dans l'état" if company else "Montant TTC de l'état", ttc))
    for name, label, sign in DEDUCTIONS:
        value = figures.get(name, Decimal("0"))
        if value:
            steps.append(Step(label, sign * value))
    what = "Décompte général" if record.get("final") else f"État d'acompte n° {record.get('label')}"
    parts = []
    if record.get("corrected"):
        parts.append("montants corrigés par le maître d'œuvre")
    if figures.get("revision"):
        parts.append("révision des prix")
    elif ttc > requested and company and not record.get("corrected"):
        # Uncorrected and unrevised, a company's TTC in the état exceeds its claim by the VAT its sous-traitants
        # self-assess (autoliquidation): the engine pays it to the company above them.
        parts.append("TVA autoliquidée de ses sous-traitants, payée avec sa part")
    parts += [label.lower() if sign < 0 else label.lower() + " avec cet acompte"
              for name, label, sign in DEDUCTIONS if figures.get(name)]
    reason = f"{what} du maître d'œuvre" + (f" : {_join(parts)}." if parts else ".")
    anchor = f"b-{record['key']}" if company else "marche-title"
    target = Target("etats.show", {"marche_id": record["marche_id"], "etat_id": record["etat_id"]}, anchor,
                    "le décompte général" if record.get("final") else f"l'état d'acompte n° {record.get('label')}")
    return AmountWhy(requested, accepted, reason, tuple(steps), target, accepted_label="Montant à payer")


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " et " + parts[-1]
