"""Cents, exact arithmetic and explained figures: the ground rules of every money computation.

Why this module exists (CHORUS.md §6.4, DESIGN.md §3.6): money is `Decimal`, never a float; each line is rounded
half-up to the cent exactly once; a total is the sum of its rounded lines. And every figure the engine returns must say
how it was obtained ("comment ce montant est-il obtenu ?"), so the UI and the export show the same lines.

- `cent()` rounds half-up to the cent and refuses floats (TypeError): a float has already lost the cent.
- `exact()` runs a computation in a fixed decimal context (40 significant digits), so that a caller who changed the
  thread's context (precision 6, another rounding) cannot change a single figure.
- `cent_of()` rounds an exact rational (`Fraction`) half-up to the cent: for a line whose formula divides by an amount
  (works ÷ part) before multiplying, a quotient cut at 40 digits can land a hair below an exact half-cent and round
  down (§6b: only the line's amount is rounded, once; no intermediate is).
- `Line` is one explanation line: a French label, the formula in words, its operands and its result.
- `Explained` is a value with the lines that produced it.
- `MoneyError` is a refusal the user must read (French message, optional form field), like `OperationError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import (
    ROUND_CEILING,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from fractions import Fraction
from typing import Any, ParamSpec, TypeVar

CENT = Decimal("0.01")
THOUSANDTH = Decimal("0.001")
ZERO = Decimal("0.00")
ONE = Decimal(1)
HUNDRED = Decimal(100)

# 40 significant digits: amounts up to 10^12 € keep 28 decimals, far beyond any rounding we do.
_CONTEXT = Context(prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])

P = ParamSpec("P")
R = TypeVar("R")

BeneficiaryKey = int | str
"""A beneficiary's key: the chain's party key (int) or any stable string."""


class MoneyError(ValueError):
    """A refusal the user must read: the message is French, `field` names the form field when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def exact(func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` in the engine's own decimal context (see the module docstring)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(_CONTEXT):
            return func(*args, **kwargs)

    return wrapper


def require_decimal(value: Any, name: str, *, optional: bool = False) -> Decimal | None:
    """Refuse anything but a finite Decimal. A float is a TypeError (it has already lost the cent); so is an int, so
    that every amount in the engine has one type and a `quantize` never meets an int."""
    if value is None and optional:
        return None
    if isinstance(value, float):
        raise TypeError(f"{name}: float refused, money is Decimal (got {value!r})")
    if not isinstance(value, Decimal):
        raise TypeError(f"{name}: Decimal expected, got {type(value).__name__} ({value!r})")
    if not value.is_finite():
        raise ValueError(f"{name}: finite Decimal expected, got {value!r}")
    return value


def require_int(value: Any, name: str) -> int:
    """Days and months are ints (not bools, not floats)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: int expected, got {type(value).__name__} ({value!r})")
    return value


@exact
def cent(value: Decimal) -> Decimal:
    """Round half-up to the cent: the one rounding of a money line (CHORUS.md §6.4). Floats are refused."""
    require_decimal(value, "montant")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def cent_of(value: Fraction) -> Decimal:
    """Round an exact rational half-up to the cent (ties away from zero, as `cent`): the one rounding of a line whose
    operands do not divide exactly (27,54 ÷ 238 093,5 has no end), so that no intermediate is ever cut short."""
    return half_up(value, CENT)


@exact
def half_up(value: Fraction, places: Decimal) -> Decimal:
    """An exact rational rounded half-up (ties away from zero) to `places` (e.g. `CENT`), computed on integers."""
    if not isinstance(value, Fraction):
        raise TypeError(f"Fraction expected, got {type(value).__name__} ({value!r})")
    units = value / Fraction(places)
    whole, rest = divmod(abs(units.numerator), units.denominator)
    if 2 * rest >= units.denominator:
        whole += 1
    return (Decimal(-whole if units < 0 else whole) * places).quantize(places)


@exact
def up_to_thousandth(value: Decimal) -> Decimal:
    """Round towards +∞ to the thousandth: the usual "arrondi au millième supérieur" of a revision coefficient."""
    require_decimal(value, "valeur")
    return value.quantize(THOUSANDTH, rounding=ROUND_CEILING)


@exact
def nearest_thousandth(value: Decimal) -> Decimal:
    """Round half-up to the thousandth."""
    require_decimal(value, "valeur")
    return value.quantize(THOUSANDTH, rounding=ROUND_HALF_UP)


def is_cents(value: Decimal) -> bool:
    """True when the amount has no fraction of a cent (an input line already rounded once)."""
    return value == value.quantize(CENT, rounding=ROUND_HALF_UP, context=_CONTEXT)


def require_cents(value: Any, name: str, label_fr: str) -> Decimal:
    """An input amount: a Decimal already rounded to the cent (its own line was rounded once, upstream)."""
    require_decimal(value, name)
    if not is_cents(value):
        raise MoneyError(f"{label_fr} : montant au centime près attendu (reçu {value}).", field=name)
    return value


# ---------------------------------------------------------------------------------------------------------------------
# French display


def fmt_euros(amount: Decimal) -> str:
    """French display of an amount, "12 000,00 €", with the same spaces as `graph.format_euros` (narrow no-break
    space between thousands, no-break space before €)."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP, context=_CONTEXT)
    english = f"{rounded:,.2f}"
    return english.replace(",", "\u202f").replace(".", ",") + "\u00a0€"


def fmt_number(value: Decimal) -> str:
    """A plain decimal number in French notation, as precise as it is stored: "1,001", "130,8"."""
    return format(value, "f").replace("-", "−").replace(".", ",")


def fmt_rate(rate: Decimal) -> str:
    """A fraction shown as a percentage: Decimal("0.05") → "5 %", Decimal("0.125") → "12,5 %"."""
    return fmt_number((rate * HUNDRED).normalize(_CONTEXT) if rate else Decimal(0)) + "\u00a0%"


_MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def check_month(month: Any, name: str = "month") -> str:
    """A month is the string "YYYY-MM" (as in the BT01 table and the export's `base_month`)."""
    if not isinstance(month, str) or not _MONTH_RE.match(month):
        raise MoneyError(f"Mois invalide : « {month} » (format attendu AAAA-MM).", field=name)
    return month


def month_fr(month: str) -> str:
    """ "2025-03" → "mars 2025", for the messages that must name a month."""
    match = _MONTH_RE.match(month)
    if not match:
        return month
    return f"{_MONTHS_FR[int(match.group(2)) - 1]} {match.group(1)}"


def of_month_fr(month: str) -> str:
    """ "2025-03" → "de mars 2025", "2024-04" → "d'avril 2024" (the elision French requires)."""
    label = month_fr(month)
    return f"d'{label}" if label[0] in "aeiouéèêàâîôûy" else f"de {label}"


def fmt_date(day: date) -> str:
    """ "15 juin 2024", "1er juillet 2024" (French typography: the first of the month is « 1er »)."""
    return f"{'1er' if day.day == 1 else day.day} {_MONTHS_FR[day.month - 1]} {day.year}"


# ---------------------------------------------------------------------------------------------------------------------
# Explained figures

Operand = tuple[str, Any]


@dataclass(frozen=True)
class Line:
    """One explanation line: what the figure is (French label), how it is obtained (French formula in words), the
    operands by name, and the result. `unit` says how to display the result: "€", "coefficient", "taux" (a
    fraction), "%" (already in percent), "jours", "date"."""

    label: str
    formula: str
    operands: tuple[Operand, ...]
    result: Decimal | int | date
    unit: str = "€"

    def to_dict(self) -> dict[str, Any]:
        """The export's shape: amounts and numbers as strings, never floats (marche-export.md)."""
        return {
            "label": self.label,
            "formula": self.formula,
            "operands": [{"name": name, "value": _plain(value)} for name, value in self.operands],
            "result": _plain(self.result),
            "unit": self.unit,
        }

    def text(self) -> str:
        """One French sentence for the "comment ce montant est-il obtenu ?" panel."""
        operands = " ; ".join(f"{name} = {_display(value)}" for name, value in self.operands)
        result = _display_result(self.result, self.unit)
        body = f"{self.label} = {self.formula}"
        return f"{body} ({operands}) → {result}" if operands else f"{body} → {result}"


def _tidy(value: Decimal) -> Decimal:
    """An exact operand that is a whole number of cents (372000.0000) is shown as cents (372000.00)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and is_cents(value):
        return value.quantize(CENT, context=_CONTEXT)
    return value


def _display_result(result: Any, unit: str) -> str:
    if unit == "€":
        return fmt_euros(result)
    if unit == "taux":
        return fmt_rate(result)
    if unit == "%":
        return f"{fmt_number(result)}\u00a0%"
    if unit == "jours":
        return f"{result} jour{'s' if result > 1 else ''}"
    return _display(result)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(_tidy(value), "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool | int | str) or value is None:
        return value
    return str(value)


def _display(value: Any) -> str:
    if isinstance(value, Decimal):
        value = _tidy(value)
        if value.as_tuple().exponent == -2:  # an amount: French thousands separator
            return fmt_euros(value).removesuffix("\u00a0€")
        return fmt_number(value)
    if isinstance(value, date):
        return fmt_date(value)
    return str(value)


@dataclass(frozen=True)
class Explained:
    """A value and the lines that explain it. The last line usually carries the value itself."""

    value: Decimal
    lines: tuple[Line, ...]

    @classmethod
    def of(cls, line: Line) -> Explained:
        """A figure explained by a single line (its result is the value)."""
        return cls(Decimal(line.result), (line,))

    @classmethod
    def zero(cls, label: str, reason: str) -> Explained:
        """A zero with the reason it is zero (no advance, retenue replaced by a guarantee...)."""
        return cls(ZERO, (Line(label, reason, (), ZERO),))

    def to_dict(self) -> dict[str, Any]:
        return {"value": _plain(self.value), "lines": [line.to_dict() for line in self.lines]}
