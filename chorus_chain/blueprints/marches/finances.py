"""The charts of the marché's financial page, from `operations.finances.MarcheFinances` (presentation only)."""
from __future__ import annotations

from markupsafe import Markup

from chorus_chain import charts
from chorus_chain.formatting import money
from chorus_chain.operations.finances import MarcheFinances

EXECUTED, CERTIFIED, PAID = charts.SERIES_COLOURS[0], charts.SERIES_COLOURS[2], charts.SERIES_COLOURS[1]


def parties_chart(f: MarcheFinances) -> Markup:
    """Per beneficiary: paid, then certified but not paid yet, out of its amount TTC to date (or its part)."""
    bars = [
        charts.Bar(
            p.name,
            p.part_ttc if p.part_ttc else max(p.ttc, p.amount_due, p.paid),
            (charts.Segment("payé", p.paid, PAID), charts.Segment("certifié non payé", p.waiting, CERTIFIED)),
        )
        for p in f.parties
    ]
    return Markup(charts.progress_bars(bars, fmt=money, title="Paiements par bénéficiaire"))


def marche_chart(f: MarcheFinances) -> Markup:
    """The marché as one bar: executed (TTC to date) and paid, out of its amount TTC."""
    bars = [charts.Bar("Marché (TTC)", f.montant_ttc, (charts.Segment("payé", f.totals.paid, PAID),
                                                       charts.Segment("certifié non payé", f.totals.waiting,
                                                                      CERTIFIED)))]
    return Markup(charts.progress_bars(bars, fmt=money, title="Avancement financier du marché"))


def curve(f: MarcheFinances) -> Markup:
    months = [m.label for m in f.months]
    series = [
        charts.Series("Travaux exécutés HT", tuple(m.works_ht for m in f.months), EXECUTED),
        charts.Series("Certifié (montant dû)", tuple(m.amount_due for m in f.months), CERTIFIED),
        charts.Series("Payé", tuple(m.paid for m in f.months), PAID),
    ]
    return Markup(charts.cumulative_curve(
        months, series, fmt=money, title="Cumul par mois",
        ceiling=f.montant_ht if f.full else None, ceiling_label="montant du marché HT"))
