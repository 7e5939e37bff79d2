"""The état d'acompte (and the décompte général) as a document: its figures, the computation line by line and the split
per beneficiary, read from the frozen JSON of an issued état (`domain.money.EtatAcompte.to_dict()`, stored in
`EtatAcompte.result`).

Why from the JSON and not from the engine's objects: an issued état never changes; its PDF must say what was issued,
not what the engine would compute today. The JSON carries every figure (amounts as strings) and every explanation
line (label, formula, operands, result), so the PDF is a faithful, printable copy of it and can be rebuilt from the
export alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal

from chorus_chain import formatting
from chorus_chain.documents.fingerprint import fingerprint
from chorus_chain.documents.model import DocumentDataError, Party
from chorus_chain.domain.money import COLUMN_LABELS, COLUMNS
from chorus_chain.domain.money.schedule import EXTRA_LABELS

CORRECTION_LABELS = {"travaux": "Travaux", **EXTRA_LABELS}

ROLE_LABELS_FR = {
    "titulaire": "Titulaire",
    "mandataire": "Mandataire",
    "cotraitant": "Co-traitant",
    "sous_traitant": "Sous-traitant",
}


@dataclass(frozen=True)
class EtatColumn:
    """One figure of the legal layout: to date, previous état, this acompte; with its explanation sentences."""

    name: str
    label: str
    to_date: Decimal
    previous: Decimal
    this: Decimal
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class EtatBeneficiary:
    name: str
    role_label: str
    payee_name: str
    columns: tuple[EtatColumn, ...]
    remaining: Decimal | None = None  # still to execute after the état, HT (None: an état frozen before issue 16)

    def column(self, name: str) -> EtatColumn:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class EtatPayable:
    name: str
    to_date: Decimal
    previous: Decimal
    this: Decimal


@dataclass(frozen=True)
class EtatCorrection:
    beneficiary: str
    field: str
    claimed: Decimal
    admitted: Decimal
    difference: Decimal

    @property
    def field_label(self) -> str:
        """"Travaux", "Approvisionnements"…: the heading corrected, as the état page names it."""
        return CORRECTION_LABELS.get(self.field, self.field)


@dataclass(frozen=True)
class EtatPdmLine:
    """One line of a projet de décompte in the état: what the company claimed and what the MOE admitted (cumul since
    the start, HT at base prices), with the MOE's comment when it corrected it."""

    reference: str
    designation: str
    unit: str
    lump_sum: bool
    claimed_measure: Decimal | None
    claimed: Decimal
    admitted_measure: Decimal | None
    """None: the MOE admitted an amount directly, or the line as claimed (then `admitted` = `claimed`)."""
    admitted: Decimal
    comment: str = ""

    @property
    def difference(self) -> Decimal:
        return self.admitted - self.claimed


@dataclass(frozen=True)
class EtatPdm:
    """The projet de décompte of one beneficiary in the état, line by line, then its extras (label, claimed,
    admitted)."""

    beneficiary: str
    role_label: str
    piece_number: str
    lines: tuple[EtatPdmLine, ...]
    extras: tuple[tuple[str, Decimal, Decimal], ...] = ()

    @property
    def claimed(self) -> Decimal:
        return sum((line.claimed for line in self.lines), Decimal("0.00"))

    @property
    def admitted(self) -> Decimal:
        return sum((line.admitted for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Signatory:
    """A signature block: who signs (the MOE who drew the état up, the MOA who validates it) and, once done, when."""

    role: str
    name: str
    done_label: str
    done_on: date | None = None


@dataclass(frozen=True)
class EtatAcompteDoc:
    marche_reference: str
    marche_objet: str
    issuer: Party
    """The MOE who drew up the état (its identity block)."""
    number: int
    month: str
    final: bool
    issued_on: date | None
    columns: tuple[EtatColumn, ...]
    beneficiaries: tuple[EtatBeneficiary, ...]
    payables: tuple[EtatPayable, ...]
    corrections: tuple[EtatCorrection, ...] = ()
    pdms: tuple[EtatPdm, ...] = ()
    signatories: tuple[Signatory, ...] = ()
    remaining: Decimal | None = None  # the marché's amount still to execute after the état, HT

    def __post_init__(self) -> None:
        if not self.marche_reference.strip():
            raise DocumentDataError("EtatAcompteDoc.marche_reference must not be empty")
        if self.number < 1:
            raise DocumentDataError("EtatAcompteDoc.number starts at 1")
        if {c.name for c in self.columns} != set(COLUMNS):
            raise DocumentDataError("an état shows its twelve columns")
        due = self.column("amount_due")
        if sum((p.this for p in self.payables), Decimal("0.00")) != due.this:
            raise DocumentDataError("the payables do not add up to the amount due of the état")

    def column(self, name: str) -> EtatColumn:
        return next(c for c in self.columns if c.name == name)

    @property
    def title(self) -> str:
        return "Décompte général" if self.final else "État d'acompte"

    @property
    def reference(self) -> str:
        """What the footer prints: "EA-<marché>-<n>" or "DG-<marché>"."""
        return f"DG-{self.marche_reference}" if self.final else f"EA-{self.marche_reference}-{self.number:02d}"

    @property
    def month_label(self) -> str:
        year, month = (int(part) for part in self.month.split("-"))
        return formatting.day(date(year, month, 1), "MMMM y")


# ---------------------------------------------------------------------------------------------------------------------
# From the JSON of an issued état


def _decimal(value: Any, where: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise DocumentDataError(f"{where}: not a number {value!r}") from None


def _shown(value: Any) -> str:
    """An operand as printed: amounts and rates with a French decimal comma, dates as dd/mm/yyyy."""
    text = str(value)
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            return f"{text[8:]}/{text[5:7]}/{text[:4]}"
        return text
    return format_decimal(number, format="#,##0.########", locale=formatting.LOCALE)


def line_text(line: Mapping[str, Any]) -> str:
    """One explanation line of the JSON as a French sentence: "label = formula (a = 1 ; b = 2) → result"."""
    operands = " ; ".join(f"{o['name']} = {_shown(o['value'])}" for o in line.get("operands", ()))
    unit = line.get("unit", "€")
    result = line.get("result")
    if unit == "€":
        shown = formatting.money(_decimal(result, "line result"))
    elif unit == "%":
        shown = f"{_shown(result)}\u00a0%"
    elif unit == "jours":
        shown = f"{result} jours"
    else:
        shown = _shown(result)
    body = f"{line['label']} = {line['formula']}"
    return f"{body} ({operands}) → {shown}" if operands else f"{body} → {shown}"


def _columns(data: Mapping[str, Any], where: str) -> tuple[EtatColumn, ...]:
    columns = []
    for name in COLUMNS:
        raw = data.get(name)
        if raw is None:
            raise DocumentDataError(f"{where}: column {name} missing")
        columns.append(EtatColumn(
            name, raw.get("label") or COLUMN_LABELS[name], _decimal(raw["to_date"], name),
            _decimal(raw["previous"], name), _decimal(raw["this"], name),
            tuple(line_text(line) for line in raw.get("lines", ())),
        ))
    return tuple(columns)


def etat_from_result(result: Mapping[str, Any], *, marche_reference: str, marche_objet: str, issuer: Party,
                     issued_on: date | None, pdms: tuple[EtatPdm, ...] = (),
                     signatories: tuple[Signatory, ...] = ()) -> EtatAcompteDoc:
    """The document of an issued état from its frozen `result` (the shape of `EtatAcompte.to_dict()`), with the
    claimed / admitted lines of its projets de décompte (`pdms`: the rows the MOE admitted, unchanged since the état
    was issued) and its signature blocks."""
    names = {b["key"]: b["name"] for b in result.get("beneficiaries", ())}
    beneficiaries = tuple(
        EtatBeneficiary(b["name"], ROLE_LABELS_FR.get(b["role"], b["role"]), names.get(b["payee_key"], b["name"]),
                        _columns(b["columns"], f"beneficiary {b['key']}"),
                        _decimal(b["remaining"]["value"], "remaining") if b.get("remaining") else None)
        for b in result.get("beneficiaries", ())
    )
    payables = tuple(
        EtatPayable(p["name"], _decimal(p["to_date"], "payable"), _decimal(p["previous"], "payable"),
                    _decimal(p["this"], "payable"))
        for p in result.get("payables", ())
    )
    corrections = tuple(
        EtatCorrection(names.get(c["key"], c["key"]), c["field"], _decimal(c["claimed"], "correction"),
                       _decimal(c["admitted"], "correction"), _decimal(c["difference"], "correction"))
        for c in result.get("corrections", ())
    )
    return EtatAcompteDoc(
        marche_reference=marche_reference, marche_objet=marche_objet, issuer=issuer,
        number=int(result["number"]), month=str(result["month"]),
        final=result.get("kind") == "decompte_general", issued_on=issued_on,
        columns=_columns(result["marche"], "marché"), beneficiaries=beneficiaries, payables=payables,
        corrections=corrections, pdms=pdms, signatories=signatories,
        remaining=_decimal(result["remaining"]["value"], "remaining") if result.get("remaining") else None,
    )


# ---------------------------------------------------------------------------------------------------------------------
# HTML and PDF


def etat_acompte_html(doc: EtatAcompteDoc) -> str:
    from chorus_chain.documents.templates import render_html

    return render_html("etat_acompte.html", doc=doc, issuer=doc.issuer, title=doc.title,
                       piece_number=doc.reference, fingerprint=fingerprint(doc))


def etat_acompte_pdf(doc: EtatAcompteDoc) -> bytes:
    from chorus_chain.documents.render import render_pdf

    return render_pdf(etat_acompte_html(doc))
