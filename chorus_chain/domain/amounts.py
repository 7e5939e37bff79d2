"""Money checks of a deposit, pure: parsing what people type, HT + TVA = TTC, autoliquidation, credit notes.

Why so strict: an amount that is silently rounded or read the wrong way ends up on a payment order. So an amount has
at most two decimals (a third is refused, never rounded away), a float is refused (it has already lost cents), and
every message says in French what to type instead (DESIGN.md §3 rules 6 and 9). Money is `Decimal`, stored as
`Numeric(14, 2)`; rounding, where a computation needs it, is half-up to the cent (`round_cent`).

What people type: "1234.56", "1234,56", "1 234,56" (spaces, no-break or narrow no-break spaces between thousands),
"1.234,56" (dots between thousands when the decimal separator is a comma), an optional "€" or "EUR". A lone dot or
comma followed by three digits ("1.234", "1,234") is read as a decimal separator, hence refused as three decimals:
better to ask than to guess a thousand times too much.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
AMOUNT_MAX = Decimal("999999999999.99")  # what Numeric(14, 2) holds

# The mention printed on an invoice whose VAT the customer self-assesses, and its legal reference (BTP
# sous-traitance, art. 283-2 nonies of the CGI, since 2014).
AUTOLIQUIDATION = "Autoliquidation"
AUTOLIQUIDATION_MENTION = (
    "Autoliquidation : TVA due par le preneur (article 283, 2 nonies du code général des impôts)."
)
AUTOLIQUIDATION_VAT_CATEGORY = "AE"  # EN 16931 VAT category code

PIECE_TYPES = ("FACTURE", "AVOIR")


class AmountRefused(ValueError):
    """A user-facing amount error: `message_fr` (also `str(exc)`) and the form `field` at fault."""

    def __init__(self, message_fr: str, field: str | None = None) -> None:
        super().__init__(message_fr)
        self.message_fr = message_fr
        self.field = field


_SPACES = "\u0020\u00a0\u202f\u2009"
_CURRENCY = re.compile(r"\s*(€|eur|euros?)\s*$", re.IGNORECASE)
# Digits grouped by three with spaces, or plain digits; then optionally a decimal part. ASCII digits only (\d would
# also take Arabic-Indic or full-width digits).
_SPACED = re.compile(r"^(?P<sign>[+-]?)(?P<int>\d{1,3}(?:[ ]\d{3})+|\d+)(?:[.,](?P<dec>\d+))?$", re.ASCII)
# "1.234,56", "1.234.567,8": dots between thousands, a comma before the decimals.
_DOTTED = re.compile(r"^(?P<sign>[+-]?)(?P<int>\d{1,3}(?:\.\d{3})+),(?P<dec>\d+)$", re.ASCII)


def parse_amount(value: Any, *, field: str | None = None, label: str = "Le montant",
                 allow_negative: bool = False) -> Decimal:
    """The Decimal (two decimals) that `value` denotes, or AmountRefused with a French message.

    Accepts a str as typed by a person, an int, or a Decimal; refuses a float, an empty value, garbage, more than
    two decimals, a negative amount (unless `allow_negative`), and anything beyond what Numeric(14, 2) holds."""
    if isinstance(value, bool) or isinstance(value, float):
        raise AmountRefused(f"{label} doit être saisi en texte ou en décimal exact, jamais en nombre à virgule "
                            "flottante (les centimes seraient faussés).", field)
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise AmountRefused(f"{label} n'est pas un nombre.", field)
        amount = value
    elif isinstance(value, str):
        amount = _parse_text(value, field, label)
    elif value is None:
        raise AmountRefused(f"Indiquez {_lower(label)}.", field)
    else:
        raise AmountRefused(f"{label} n'est pas un nombre.", field)
    if abs(amount) > AMOUNT_MAX:
        raise AmountRefused(f"{label} est trop élevé (999 999 999 999,99 € au plus).", field)
    if amount != amount.quantize(CENT):
        raise AmountRefused(f"{label} a au plus deux décimales (les centimes) : {_shown(amount)} n'est pas "
                            "accepté.", field)
    if amount < 0 and not allow_negative:
        raise AmountRefused(f"{label} ne peut pas être négatif.", field)
    return amount.quantize(CENT) + 0  # + 0 turns -0.00 into 0.00


def _parse_text(text: str, field: str | None, label: str) -> Decimal:
    cleaned = _CURRENCY.sub("", text.strip())
    cleaned = re.sub(f"[{_SPACES}]+", " ", cleaned).strip()
    if not cleaned:
        raise AmountRefused(f"Indiquez {_lower(label)}.", field)
    match = _SPACED.match(cleaned) or _DOTTED.match(cleaned)
    if match is None:
        raise AmountRefused(f"{label} n'est pas un montant lisible : écrivez par exemple 1 234,56.", field)
    digits = match["int"].replace(" ", "").replace(".", "")
    decimals = match["dec"] or ""
    if len(decimals) > 2:
        raise AmountRefused(f"{label} a au plus deux décimales (les centimes) : « {text.strip()} » en a "
                            f"{len(decimals)}.", field)
    try:
        return Decimal(f"{match['sign']}{digits}.{decimals or '0'}")
    except InvalidOperation:  # pragma: no cover - the regular expressions only let digits through
        raise AmountRefused(f"{label} n'est pas un montant lisible.", field) from None


def _lower(label: str) -> str:
    return label[:1].lower() + label[1:]


def _shown(amount: Decimal) -> str:
    return format(amount, "f").replace(".", ",")


def round_cent(value: Decimal) -> Decimal:
    """Half-up to the cent (0.005 → 0.01, -0.005 → -0.01): the one rounding rule of the house. Refuses floats."""
    if not isinstance(value, Decimal) or isinstance(value, bool):
        raise TypeError(f"round_cent takes a Decimal, not {type(value).__name__}")
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_fr(amount: Decimal) -> str:
    """"1 234,56 €" with a narrow no-break space between thousands, for messages."""
    rounded = round_cent(amount)
    english = f"{rounded:,.2f}"
    return english.replace(",", "\u202f").replace(".", ",") + "\u00a0€"


@dataclass(frozen=True)
class Totals:
    """The three checked totals of a piece."""

    ht: Decimal
    tva: Decimal
    ttc: Decimal


def check_totals(ht: Decimal, tva: Decimal, ttc: Decimal) -> Totals:
    """HT + TVA must equal TTC to the cent: no tolerance, since the paying office pays the TTC and the VAT is
    declared on the TVA."""
    for name, value in (("montant_ht", ht), ("montant_tva", tva), ("montant_ttc", ttc)):
        if not isinstance(value, Decimal):
            raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    if ht + tva != ttc:
        raise AmountRefused(
            f"Le montant TTC ({format_fr(ttc)}) doit être égal au HT plus la TVA ({format_fr(ht)} + "
            f"{format_fr(tva)} = {format_fr(ht + tva)}).",
            "montant_ttc",
        )
    return Totals(ht, tva, ttc)


def check_vat_regime(totals: Totals, *, autoliquidation: bool) -> str | None:
    """Under autoliquidation the invoice carries no VAT (the customer self-assesses it): TVA must be 0 and TTC =
    HT. Returns the mention to print ("Autoliquidation", with its legal reference), or None."""
    if not autoliquidation:
        return None
    if totals.tva != 0:
        raise AmountRefused(
            "En autoliquidation (sous-traitance de travaux), la facture ne porte pas de TVA : indiquez une TVA "
            "de 0,00 € ; l'entreprise donneuse d'ordre déclare elle-même la TVA.",
            "montant_tva",
        )
    return AUTOLIQUIDATION_MENTION


# The VAT rates of France (CGI art. 278 to 281 nonies): normal, intermediate, reduced, super-reduced, and none
# (exempt operations). The rates of Corsica and of the overseas départements are not offered by the platform.
FRENCH_VAT_RATES = (Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1"), Decimal("0"))
HIGHEST_VAT_RATE = max(FRENCH_VAT_RATES)


def _rate_fr(rate: Decimal) -> str:
    return format(rate.normalize(), "f").replace(".", ",") + " %"


def check_vat_rate(rate: Decimal, field: str = "tva_rate") -> Decimal:
    """A VAT rate in percent that exists in France (20, 10, 5,5, 2,1 or 0); autoliquidation is a regime of the
    invoice, not a rate."""
    if rate not in FRENCH_VAT_RATES:
        raise AmountRefused(f"Un taux de TVA de {_rate_fr(rate)} n'existe pas en France : choisissez 20 %, 10 %, "
                            "5,5 %, 2,1 % ou 0 %.", field)
    return rate


def check_vat_amount(totals: Totals) -> None:
    """No French rate exceeds 20 %: a VAT above 20 % of the HT (a cent of rounding per rate aside) is a typing
    error. An invoice may mix rates (works at 10 % and 20 %), so a VAT below 20 % is not checked against one."""
    ceiling = round_cent(totals.ht * HIGHEST_VAT_RATE / 100) + CENT * len(FRENCH_VAT_RATES)
    if totals.tva > ceiling:
        rate = (totals.tva * 100 / totals.ht).quantize(Decimal("0.1")) if totals.ht else None
        shown = f" ({_rate_fr(rate)} du HT)" if rate is not None else ""
        raise AmountRefused(f"La TVA ({format_fr(totals.tva)}){shown} est trop grande : aucun taux de TVA français "
                            f"ne dépasse 20 % (au plus {format_fr(round_cent(totals.ht * HIGHEST_VAT_RATE / 100))} "
                            f"pour {format_fr(totals.ht)} HT).", "montant_tva")


def check_deposit_amounts(
    ht: Any, tva: Any, ttc: Any, *, autoliquidation: bool = False, piece_type: str = "FACTURE"
) -> Totals:
    """Everything a deposit's amounts must satisfy, first error first: each amount readable (at most two
    decimals, not negative: a credit note is a positive AVOIR, its type carries the sign), HT + TVA = TTC, and no
    VAT under autoliquidation."""
    if piece_type not in PIECE_TYPES:
        raise ValueError(f"piece_type must be one of {PIECE_TYPES}")
    totals = Totals(
        parse_amount(ht, field="montant_ht", label="Le montant HT"),
        parse_amount(tva, field="montant_tva", label="Le montant de TVA"),
        parse_amount(ttc, field="montant_ttc", label="Le montant TTC"),
    )
    if piece_type == "AVOIR" and totals.ttc == 0:
        raise AmountRefused("Un avoir d'un montant nul n'a pas d'objet.", "montant_ttc")
    check_totals(totals.ht, totals.tva, totals.ttc)
    check_vat_regime(totals, autoliquidation=autoliquidation)
    check_vat_amount(totals)
    return totals


def check_credit_note(
    avoir: Totals, original: Totals, *, already_credited_ttc: Decimal = ZERO,
    original_autoliquidation: bool = False, autoliquidation: bool = False,
) -> None:
    """A credit note (AVOIR) refers to an original invoice and cancels all or part of it: it is positive, never more
    than what is left to credit on the original (its TTC minus the credit notes already issued), and under the same
    VAT regime (an autoliquidated invoice is credited without VAT)."""
    if avoir.ttc <= 0:
        raise AmountRefused("Le montant d'un avoir est positif : c'est le type « avoir » qui le déduit.",
                            "montant_ttc")
    if autoliquidation != original_autoliquidation:
        raise AmountRefused("L'avoir doit suivre le même régime de TVA que la facture d'origine (autoliquidation "
                            "ou non).", "autoliquidation")
    remaining = original.ttc - already_credited_ttc
    if avoir.ttc > remaining:
        raise AmountRefused(
            f"L'avoir ({format_fr(avoir.ttc)} TTC) dépasse ce qui reste à créditer sur la facture d'origine "
            f"({format_fr(remaining)} TTC sur {format_fr(original.ttc)}).",
            "montant_ttc",
        )
    if avoir.ht > original.ht or avoir.tva > original.tva:
        raise AmountRefused("L'avoir ne peut pas dépasser le HT ou la TVA de la facture d'origine.", "montant_ht")


def check_payment(amount: Decimal | None, due: Decimal, paid_on: date | None, deposited_on: date | None) -> None:
    """A payment recorded on a piece: never more than what is due on it (the amount accepted, else its TTC), never
    dated before the piece was deposited (nothing is paid before it is asked for)."""
    if amount is not None and amount > due:
        raise AmountRefused(f"Le montant payé ({format_fr(amount)}) est trop grand : il dépasse le montant dû sur "
                            f"cette pièce ({format_fr(due)}).", "amount")
    if amount is not None and amount <= 0:
        raise AmountRefused("Le montant payé doit être supérieur à zéro.", "amount")
    if paid_on is not None and deposited_on is not None and paid_on < deposited_on:
        raise AmountRefused(f"La date de paiement ({paid_on:%d/%m/%Y}) précède l'envoi de la pièce "
                            f"({deposited_on:%d/%m/%Y}) : une pièce n'est pas payée avant d'être déposée.",
                            "paid_on")


def check_partial_amount(accepted: Any, claimed: Decimal) -> Decimal:
    """The amount a validator accepts in a partial validation: more than zero and less than what was claimed (all
    of it is a plain validation; nothing is a refusal)."""
    amount = parse_amount(accepted, field="amount", label="Le montant accepté")
    if amount <= 0:
        raise AmountRefused("Le montant accepté doit être supérieur à zéro ; sinon, refusez la pièce.", "amount")
    if amount >= claimed:
        raise AmountRefused(
            f"Le montant accepté ({format_fr(amount)}) doit être inférieur au montant demandé "
            f"({format_fr(claimed)}) ; pour l'accepter en entier, validez la pièce.",
            "amount",
        )
    return amount


def check_already_paid(cadre: str, net_payable: Decimal) -> None:
    """An A2 invoice is already paid: the amount still due must be zero."""
    if cadre == "A2" and net_payable != 0:
        raise AmountRefused("Une facture déjà payée (A2) a un montant restant à payer de 0,00 €.", "net_a_payer")
