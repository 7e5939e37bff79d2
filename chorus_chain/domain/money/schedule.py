"""The price schedule of a marché (bordereau des prix / DPGF) and the lines of a projet de décompte mensuel: pure
rules, no Flask, no database (CHORUS.md §6.1).

What is here and why:
- the value of a price line: quantity × unit price HT, rounded half-up to the cent ONCE (§6.4), or a lump sum;
- reading a price sheet (rows of cells, from a CSV or an XLSX file) into lines, or into French errors naming the
  sheet's line ("ligne 7 : quantité illisible « 12,5,3 »"): companies paste their DPGF from a spreadsheet, whose
  headers and number formats vary, so the reading is tolerant about headers ("Réf.", "Référence", "Qté"...) and French
  numbers ("1 234,50"), and strict about anything it would otherwise have to guess;
- the valuation of a PDM line, cumulative since the start: a quantity executed (unit-price line) or a percentage of
  progress (lump-sum line), at base prices;
- the checks of a PDM line: a negative quantity is refused (a deduction is a réfaction, entered as such); a line
  beyond 100 % of its quantity, or a cumul lower than last month's, is possible (extra work, a correction) but needs
  an explicit justification;
- the amount a PDM claims this month: the difference between its cumul and the previous PDM's, never negative.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from chorus_chain.domain.decimals import DecimalRefused as NumberRefused
from chorus_chain.domain.decimals import read_decimal as read_number
from chorus_chain.domain.decimals import shown as _shown
from chorus_chain.domain.money.rounding import ZERO, Line, MoneyError, cent, exact
from chorus_chain.domain.units import typeset

QUANTITY_PLACES = 3  # Numeric(14, 3)
UNIT_PRICE_PLACES = 4  # Numeric(14, 4)
PERCENT_PLACES = 3  # Numeric(7, 3)
AMOUNT_PLACES = 2
PERCENT_MAX = Decimal("9999.999")  # Numeric(7, 3)
MAX_LINES = 5000  # a sheet with more lines is not a price schedule (or a mistake): refused
FULL = Decimal(100)

REFERENCE_MAX, DESIGNATION_MAX, LOT_MAX, UNIT_MAX = 30, 300, 50, 20

# Units that mean "the whole of it": such a line is paid by percentage of progress, whatever its quantity says.
LUMP_SUM_UNITS = frozenset({"ft", "f", "forfait", "ens", "ensemble", "global"})


# ---------------------------------------------------------------------------------------------------------------------
# Numbers as people type them


_SPACES = re.compile("[\u0020\u00a0\u202f\u2009]+")


# ---------------------------------------------------------------------------------------------------------------------
# A price line and its value


@exact
def unit_line_value(quantity: Decimal, unit_price_ht: Decimal) -> Decimal:
    """Quantity × unit price HT, half-up to the cent once (the line's amount in the schedule)."""
    return cent(quantity * unit_price_ht)


@dataclass(frozen=True)
class PriceTerms:
    """What a PDM line needs of its price line: a unit-price line (quantity, unit price) or a lump sum (amount)."""

    lump_sum: bool
    amount_ht: Decimal
    quantity: Decimal | None = None
    unit_price_ht: Decimal | None = None


@dataclass(frozen=True)
class ScheduleLine:
    """One line of a price schedule as entered or read from a sheet (amount already valued)."""

    lot: str
    reference: str
    designation: str
    unit: str
    quantity: Decimal | None
    unit_price_ht: Decimal | None
    lump_sum: bool
    amount_ht: Decimal
    sheet_line: int | None = None  # where it came from in the sheet, for messages

    @property
    def terms(self) -> PriceTerms:
        return PriceTerms(self.lump_sum, self.amount_ht, self.quantity, self.unit_price_ht)


def _clean_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a reference typed as 12 in a numeric cell comes back as 12.0
    return _SPACES.sub(" ", str(value)).strip()


def build_line(*, lot: Any = "", reference: Any, designation: Any, unit: Any = "", quantity: Any = None,
               unit_price_ht: Any = None, amount_ht: Any = None, lump_sum: bool | None = None,
               sheet_line: int | None = None) -> tuple[ScheduleLine | None, list[str]]:
    """A checked schedule line, or the French reasons it is refused (without the "ligne n :" prefix).

    - unit-price line: quantity and unit price, amount = quantity × unit price rounded once; an amount given too must
      agree to the cent (a sheet whose total column disagrees is a sheet someone must look at);
    - lump sum: an amount alone, or a unit meaning "forfait" (Ft, Ens...), or `lump_sum=True`; when it also has a
      quantity and a unit price (1 Ens × 12 000), its amount is their product."""
    errors: list[str] = []
    lot_text, ref, label, unit_text = (_clean_text(v) for v in (lot, reference, designation, unit))
    if not ref:
        errors.append("référence manquante")
    elif len(ref) > REFERENCE_MAX:
        errors.append(f"référence trop longue ({REFERENCE_MAX} caractères au plus)")
    if not label:
        errors.append("désignation manquante")
    elif len(label) > DESIGNATION_MAX:
        errors.append(f"désignation trop longue ({DESIGNATION_MAX} caractères au plus)")
    if len(lot_text) > LOT_MAX:
        errors.append(f"lot trop long ({LOT_MAX} caractères au plus)")
    if len(unit_text) > UNIT_MAX:
        errors.append(f"unité trop longue ({UNIT_MAX} caractères au plus)")
    numbers: dict[str, Decimal | None] = {}
    for name, raw, places, label_fr in (("quantity", quantity, QUANTITY_PLACES, "quantité"),
                                        ("unit_price_ht", unit_price_ht, UNIT_PRICE_PLACES, "prix unitaire HT"),
                                        ("amount_ht", amount_ht, AMOUNT_PLACES, "montant HT")):
        try:
            numbers[name] = read_number(raw, places)
        except NumberRefused as error:
            errors.append(f"{label_fr} {error.reason_fr}")
            numbers[name] = None
            continue
        if numbers[name] is not None and numbers[name] < 0:
            errors.append(f"{label_fr} {'négative' if name == 'quantity' else 'négatif'} « {_shown(numbers[name])} » : "
                          "un bordereau ne porte que des montants positifs")
    if errors:
        return None, errors
    qty, price, amount = numbers["quantity"], numbers["unit_price_ht"], numbers["amount_ht"]
    is_lump = lump_sum if lump_sum is not None else (unit_text.casefold().rstrip(".") in LUMP_UNITS_CASEFOLD
                                                     or (qty is None and price is None and amount is not None))
    if qty is not None and price is not None:
        value = unit_line_value(qty, price)
        if amount is not None and amount != value:
            return None, [f"le montant HT {_euros(amount)} ne correspond pas à quantité × prix unitaire "
                          f"({_shown(qty)} × {_shown(price)} = {_euros(value)})"]
    elif is_lump and amount is not None and qty is None and price is None:
        value = amount
    elif is_lump:
        return None, ["forfait sans montant HT"]
    elif qty is None and price is None:
        return None, ["quantité et prix unitaire HT manquants (ou montant HT d'un forfait)"]
    else:
        return None, ["prix unitaire HT manquant" if price is None else "quantité manquante"]
    if is_lump and (qty is None or price is None):
        qty = price = None
    return ScheduleLine(lot_text, ref, label, unit_text, qty, price, bool(is_lump), value, sheet_line), []


LUMP_UNITS_CASEFOLD = frozenset(unit.casefold() for unit in LUMP_SUM_UNITS)


def _euros(amount: Decimal) -> str:
    rounded = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{rounded:,.2f}".replace(",", "\u202f").replace(".", ",") + "\u00a0€"


# ---------------------------------------------------------------------------------------------------------------------
# Reading a sheet


COLUMNS = ("lot", "reference", "designation", "unit", "quantity", "unit_price_ht", "amount_ht", "lump_sum")
COLUMN_LABELS = {
    "lot": "Lot", "reference": "Référence", "designation": "Désignation", "unit": "Unité", "quantity": "Quantité",
    "unit_price_ht": "Prix unitaire HT", "amount_ht": "Montant HT", "lump_sum": "Forfait",
}
# Header names, without accents, case, punctuation or extra spaces → the column they mean.
_HEADERS = {
    "lot": "lot", "n lot": "lot", "no lot": "lot", "numero de lot": "lot",
    "ref": "reference", "reference": "reference", "references": "reference", "n": "reference", "no": "reference",
    "numero": "reference", "code": "reference", "article": "reference", "n article": "reference",
    "n prix": "reference", "ref prix": "reference",
    "designation": "designation", "designations": "designation", "libelle": "designation",
    "description": "designation", "designation des ouvrages": "designation", "intitule": "designation",
    "unite": "unit", "u": "unit", "unites": "unit",
    "quantite": "quantity", "quantites": "quantity", "qte": "quantity", "qt": "quantity",
    "prix unitaire ht": "unit_price_ht", "prix unitaire": "unit_price_ht", "pu ht": "unit_price_ht",
    "pu": "unit_price_ht", "prix unitaire hors taxes": "unit_price_ht", "pu ht eur": "unit_price_ht",
    "prix unitaire ht eur": "unit_price_ht",
    "montant ht": "amount_ht", "montant": "amount_ht", "total ht": "amount_ht", "montant total ht": "amount_ht",
    "prix total ht": "amount_ht", "montant ht eur": "amount_ht", "montant hors taxes": "amount_ht",
    "forfait": "lump_sum", "montant forfaitaire": "lump_sum", "prix forfaitaire": "lump_sum",
    "montant forfaitaire ht": "lump_sum", "forfait ht": "lump_sum",
}
REQUIRED = ("reference", "designation")
_SUBTOTAL = re.compile(r"^(sous[- ]?)?total\b|^report\b|^montant total\b", re.IGNORECASE)


def header_key(text: Any) -> str:
    """ "Réf." → "ref", "Prix unitaire H.T. (€)" → "prix unitaire ht eur", "Qté" → "qte"."""
    raw = _clean_text(text).replace("€", " eur ").replace("°", " ")
    plain = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode().casefold()
    plain = re.sub(r"\bh\s*\.?\s*t\b\.?", "ht", plain)
    plain = re.sub(r"[^a-z0-9]+", " ", plain).strip()
    return plain


@dataclass(frozen=True)
class SheetError:
    """A problem of one line of the sheet (`line` is the sheet's own line number, 1 for its first row), or of the
    whole sheet (`line` None)."""

    line: int | None
    message: str

    @property
    def message_fr(self) -> str:
        return f"ligne {self.line} : {self.message}" if self.line is not None else self.message


@dataclass
class SheetResult:
    """What a sheet holds: its lines (empty as soon as one line is in error: an import is all or nothing), the
    errors, the columns found (column → its header as written), and the lines skipped as titles or subtotals."""

    lines: list[ScheduleLine] = field(default_factory=list)
    errors: list[SheetError] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    rows: list[tuple[int, ScheduleLine | None, list[str]]] = field(default_factory=list)  # every data row, in order

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.lines)

    @property
    def total_ht(self) -> Decimal:
        return sum((line.amount_ht for line in self.lines), ZERO)


def _find_header(rows: Sequence[Sequence[Any]], scan: int = 20) -> tuple[int, dict[str, int], dict[str, str]] | None:
    """The first row (among the first `scan`) that names at least the reference and the designation columns."""
    for index, row in enumerate(rows[:scan]):
        found: dict[str, int] = {}
        written: dict[str, str] = {}
        for col, cell in enumerate(row):
            key = _HEADERS.get(header_key(cell))
            if key is not None and key not in found:
                found[key] = col
                written[key] = _clean_text(cell)
        if all(name in found for name in REQUIRED):
            return index, found, written
    return None


def read_sheet(rows: Iterable[Sequence[Any]], *, max_lines: int = MAX_LINES,
               existing_references: Iterable[str] = ()) -> SheetResult:
    """Read the rows of a price sheet (cells as text, numbers or None) into schedule lines.

    The header row is found among the first 20 rows (titles above it are ignored); it must name at least
    "Référence" and "Désignation". Empty rows, title rows (text but no reference and no figure) and subtotal rows
    ("Total lot 2", "Sous-total") are skipped. A "Forfait" column, when present, holds a lump sum's amount. Each
    reference must be new (in the sheet and among `existing_references`, compared without case). More than
    `max_lines` lines: refused as a whole."""
    rows = [list(row) for row in rows]
    result = SheetResult()
    header = _find_header(rows)
    if header is None:
        result.errors.append(SheetError(None, "En-têtes introuvables : la feuille doit avoir une ligne d'en-têtes "
                                              "avec au moins « Référence » et « Désignation » (puis « Quantité », "
                                              "« Prix unitaire HT », « Montant HT » ou « Forfait »)."))
        return result
    header_index, columns, written = header
    result.columns = written
    if not ({"quantity", "unit_price_ht"} <= columns.keys() or {"amount_ht", "lump_sum"} & columns.keys()):
        result.errors.append(SheetError(header_index + 1, "il faut les colonnes « Quantité » et « Prix unitaire HT », "
                                                          "ou une colonne « Montant HT » / « Forfait »"))
        return result
    seen = {ref.casefold(): None for ref in existing_references}
    count = 0
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        number = index + 1
        cells = {name: (row[col] if col < len(row) else None) for name, col in columns.items()}
        if all(_clean_text(v) == "" for v in row):
            continue
        figures = [cells.get(n) for n in ("quantity", "unit_price_ht", "amount_ht", "lump_sum")]
        has_figure = any(_clean_text(v) != "" for v in figures)
        reference = _clean_text(cells.get("reference"))
        if not reference and (not has_figure or _SUBTOTAL.match(_clean_text(cells.get("designation")))):
            result.skipped.append(number)
            continue
        count += 1
        if count > max_lines:
            result.errors = [SheetError(None, f"La feuille compte plus de {max_lines:,} lignes de prix : importez-la "
                                              "en plusieurs fois, ou vérifiez qu'il s'agit bien du bordereau."
                                        .replace(",", "\u202f"))]
            result.lines, result.rows = [], []
            return result
        lump_amount = cells.get("lump_sum")
        lump = None
        amount = cells.get("amount_ht")
        if _clean_text(lump_amount) != "":
            lump = True
            if _clean_text(amount) != "" and _clean_text(amount) != _clean_text(lump_amount):
                line, errors = None, ["montant HT et forfait renseignés tous les deux : gardez l'un ou l'autre"]
                result.rows.append((number, None, errors))
                result.errors += [SheetError(number, e) for e in errors]
                continue
            amount = lump_amount
        line, errors = build_line(lot=cells.get("lot"), reference=cells.get("reference"),
                                  designation=cells.get("designation"), unit=cells.get("unit"),
                                  quantity=cells.get("quantity"), unit_price_ht=cells.get("unit_price_ht"),
                                  amount_ht=amount, lump_sum=lump, sheet_line=number)
        if line is not None:
            key = line.reference.casefold()
            if key in seen:
                where = f"déjà à la ligne {seen[key]}" if seen[key] else "déjà au bordereau du marché"
                line, errors = None, [f"référence « {line.reference} » {where}"]
            else:
                seen[key] = number
        result.rows.append((number, line, errors))
        if line is None:
            result.errors += [SheetError(number, e) for e in errors]
        else:
            result.lines.append(line)
    if not result.errors and not result.lines:
        result.errors.append(SheetError(None, "La feuille ne contient aucune ligne de prix sous ses en-têtes."))
    return result


# ---------------------------------------------------------------------------------------------------------------------
# A line of a projet de décompte mensuel


@dataclass(frozen=True)
class PdmProblem:
    """Something about a PDM line: `justifiable` problems (beyond 100 %, going backwards) stop the deposit until a
    justification is given; the others (a negative figure) are refused outright."""

    kind: str  # "negative", "beyond", "backwards"
    message_fr: str
    justifiable: bool


@exact
def pdm_line_amount(terms: PriceTerms, measure: Decimal) -> Decimal:
    """The cumulative amount of a PDM line at base prices, half-up to the cent once: quantity × unit price for a
    unit-price line, lump sum × percentage / 100 for a lump-sum line."""
    if terms.lump_sum:
        return cent(terms.amount_ht * measure / FULL)
    return cent(measure * terms.unit_price_ht)


@exact
def progress_percent(terms: PriceTerms, measure: Decimal) -> Decimal | None:
    """How far the line is, in % (one decimal, half-up): the percentage itself for a lump sum, the quantity over the
    schedule's quantity otherwise (None when the schedule's quantity is zero: there is no 100 %)."""
    if terms.lump_sum:
        return measure.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if not terms.quantity:
        return None
    return (measure * FULL / terms.quantity).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def pdm_line_problems(terms: PriceTerms, measure: Decimal, previous: Decimal | None, *, reference: str = "",
                      unit: str = "") -> list[PdmProblem]:
    """What is wrong or unusual with a cumulative measure (quantity, or % for a lump sum), against the schedule and
    last month's cumul (`previous`, None for a first décompte)."""
    what = f"Ligne {reference}" if reference else "Cette ligne"
    shown = _measure_text(terms, measure, unit)
    problems = []
    if measure < 0:
        problems.append(PdmProblem(
            "negative", f"{what} : {shown} négatif. Une déduction ne se saisit pas en quantité négative, mais en "
                        "réfaction.", False))
        return problems
    limit = FULL if terms.lump_sum else terms.quantity
    if limit is not None and measure > limit:
        problems.append(PdmProblem(
            "beyond", f"{what} : {shown} dépasse les 100 % prévus au bordereau "
                      f"({_measure_text(terms, limit, unit)}). Justifiez ce dépassement.", True))
    if previous is not None and measure < previous:
        problems.append(PdmProblem(
            "backwards", f"{what} : le cumul ({shown}) est inférieur à celui du décompte précédent "
                         f"({_measure_text(terms, previous, unit)}). Justifiez ce retour en arrière.", True))
    return problems


def _measure_text(terms: PriceTerms, measure: Decimal, unit: str) -> str:
    if terms.lump_sum:
        return f"{_shown(measure)}\u00a0%"
    return f"{_shown(measure)}\u00a0{typeset(unit)}".rstrip() if unit else _shown(measure)


def read_measure(value: Any, terms: PriceTerms) -> Decimal | None:
    """A cumulative measure as typed (quantity with 3 decimals, or a percentage with 3 decimals); None when empty;
    MoneyError with a French message otherwise."""
    label = "Le pourcentage d'avancement" if terms.lump_sum else "La quantité cumulée"
    try:
        number = read_number(value, PERCENT_PLACES if terms.lump_sum else QUANTITY_PLACES)
    except NumberRefused as error:
        raise MoneyError(f"{label} est {error.reason_fr}.") from None
    if number is not None and terms.lump_sum and number > PERCENT_MAX:
        raise MoneyError(f"{label} est trop élevé ({_shown(number)} %).")
    return number


# ---------------------------------------------------------------------------------------------------------------------
# The amount of a PDM


EXTRAS = ("approvisionnements", "primes", "debours", "refactions")
EXTRA_LABELS = {"approvisionnements": "Approvisionnements", "primes": "Primes", "debours": "Débours",
                "refactions": "Réfactions"}


@dataclass(frozen=True)
class Cumul:
    """A PDM's cumulative figures since the start, HT at base prices (each already rounded to the cent)."""

    works: Decimal = ZERO
    approvisionnements: Decimal = ZERO
    primes: Decimal = ZERO
    debours: Decimal = ZERO
    refactions: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """Works + approvisionnements + primes + débours − réfactions."""
        return self.works + self.approvisionnements + self.primes + self.debours - self.refactions


@dataclass(frozen=True)
class PdmAmount:
    """This month's claim: the cumul now, the previous cumul, the difference per heading, with explanation lines."""

    current: Cumul
    previous: Cumul
    montant_ht: Decimal
    lines: tuple[Line, ...]

    def delta(self, name: str) -> Decimal:
        return getattr(self.current, name) - getattr(self.previous, name)


HEADINGS = (("works", "Travaux"), *EXTRA_LABELS.items())


@exact
def pdm_amount(current: Cumul, previous: Cumul | None) -> PdmAmount:
    """Montant HT of the PDM = cumul now − cumul of the previous décompte (works, approvisionnements, primes and
    débours added, réfactions deducted). A cumul may go down on one heading (supplies turned into works), but the
    whole claim never negative: MoneyError in French (it would be a credit note, not a PDM)."""
    previous = previous or Cumul()
    lines = []
    for name, label in HEADINGS:
        now, before = getattr(current, name), getattr(previous, name)
        lines.append(Line(f"{label} (ce mois)", "cumul à ce jour − cumul précédent",
                          (("cumul à ce jour", now), ("cumul précédent", before)), now - before))
    montant = current.total - previous.total
    lines.append(Line("Montant HT de ce projet de décompte",
                      "travaux + approvisionnements + primes + débours − réfactions (ce mois)",
                      (("cumul à ce jour", current.total), ("cumul précédent", previous.total)), montant))
    if montant < 0:
        raise MoneyError(
            f"Ce projet de décompte ferait un montant négatif ({_euros(montant).replace('-', '−')}) : son cumul "
            f"({_euros(current.total)}) est inférieur à celui du décompte précédent ({_euros(previous.total)}). "
            "Vérifiez les quantités cumulées ; un trop-perçu se régularise par une réfaction ou un avoir.",
            field="montant_ht")
    return PdmAmount(current, previous, montant, tuple(lines))


def vat_of(montant_ht: Decimal, tva_rate_percent: Decimal, *, autoliquidation: bool) -> Decimal:
    """The VAT of a PDM: none under autoliquidation (the contractor self-assesses it), else HT × rate, half-up to
    the cent once."""
    if autoliquidation:
        return ZERO
    return cent(montant_ht * tva_rate_percent / FULL)
