"""Simple server-side SVG charts for the money pages: horizontal progress bars and a cumulative curve per month.

Why hand-written: two small shapes, drawn with presentation attributes only (no <style>, no script), so they pass the
strict Content-Security-Policy, print well and need nothing from the network; each chart carries a <title> and a
<desc> and every figure also appears as text beside the chart, so a screen reader misses nothing. Pure: amounts come
in as Decimal, a `fmt` callable turns them into French text (the caller passes the Babel filter).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

ZERO = Decimal(0)
INK = "#1f2933"
MUTED = "#52606d"
TRACK = "#e4e7eb"
GRID = "#cbd2d9"
# Colour-blind-safe pairs (Okabe–Ito), dark enough on white for the 3:1 contrast of graphical objects.
SERIES_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7")

Formatter = Callable[[Decimal], str]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass(frozen=True)
class Segment:
    """A part of a bar: `value` out of the bar's total, drawn in `colour`, named in the legend by `label`."""

    label: str
    value: Decimal
    colour: str


@dataclass(frozen=True)
class Bar:
    """One row: a label, the total it is measured against, and its segments (drawn one after the other)."""

    label: str
    total: Decimal
    segments: tuple[Segment, ...]


def _share(value: Decimal, total: Decimal) -> Decimal:
    if total <= 0 or value <= 0:
        return ZERO
    return min(value / total, Decimal(1))


def progress_bars(bars: Sequence[Bar], *, fmt: Formatter, title: str, width: int = 720) -> str:
    """Horizontal bars, one per row: its segments as shares of its total, the figures written beside it. A segment
    beyond what is left of the bar is clipped (the text still says the real figure: an overrun must be readable)."""
    label_w, row_h, bar_h, top = 230, 46, 16, 8
    bar_w = width - label_w - 16
    height = top + row_h * max(len(bars), 1) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="chart-title chart-desc" class="chart" font-family="DejaVu Sans, sans-serif">',
        f'<title id="chart-title">{_e(title)}</title>',
        f'<desc id="chart-desc">{_e(_bars_description(bars, fmt))}</desc>',
    ]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        parts.append(f'<text x="0" y="{y + 13}" font-size="13" fill="{INK}">{_e(_fit(bar.label, 30))}</text>')
        parts.append(f'<text x="0" y="{y + 31}" font-size="11" fill="{MUTED}">sur {_e(fmt(bar.total))}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{bar_h}" rx="3" fill="{TRACK}"/>')
        x = Decimal(label_w)
        right = Decimal(label_w + bar_w)
        for segment in bar.segments:
            w = min(_share(segment.value, bar.total) * bar_w, right - x)
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{bar_h}" '
                             f'fill="{segment.colour}"><title>{_e(segment.label)} : {_e(fmt(segment.value))}'
                             f'</title></rect>')
                x += w
        figures = " · ".join(f"{s.label} {fmt(s.value)}" for s in bar.segments)
        parts.append(f'<text x="{label_w}" y="{y + 36}" font-size="11" fill="{MUTED}">{_e(_fit(figures, 95))}'
                     "</text>")
    parts.append("</svg>")
    return "".join(parts)


def _bars_description(bars: Sequence[Bar], fmt: Formatter) -> str:
    return " ; ".join(
        f"{bar.label} : " + ", ".join(f"{s.label} {fmt(s.value)}" for s in bar.segments) + f" sur {fmt(bar.total)}"
        for bar in bars
    ) or "Aucune donnée."


@dataclass(frozen=True)
class Series:
    """A cumulative curve: one value per month (the same months for every series of a chart)."""

    label: str
    values: tuple[Decimal, ...]
    colour: str


def cumulative_curve(months: Sequence[str], series: Sequence[Series], *, fmt: Formatter, title: str,
                     ceiling: Decimal | None = None, ceiling_label: str = "", width: int = 720,
                     height: int = 280) -> str:
    """Lines over months (labels as given, e.g. "janv. 2026"), with a horizontal dashed line at `ceiling` (the
    marché's amount) when given. The y scale starts at 0 and reaches the ceiling or the highest value."""
    left, right, top, bottom = 92, 16, 16, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for v in s.values]
    top_value = max([*values, ceiling or ZERO, Decimal(1)])
    n = len(months)

    def x_of(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_of(value: Decimal) -> float:
        return top + plot_h - float(value / top_value) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="curve-title curve-desc" class="chart" font-family="DejaVu Sans, sans-serif">',
        f'<title id="curve-title">{_e(title)}</title>',
        f'<desc id="curve-desc">{_e(_curve_description(months, series, fmt))}</desc>',
    ]
    for k in range(5):  # grid lines at 0, 25, 50, 75, 100 % of the scale
        value = top_value * k / 4
        y = y_of(value)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="{MUTED}">'
                     f'{_e(fmt(value.quantize(Decimal(1))))}</text>')
    if ceiling is not None and ceiling > 0:
        y = y_of(ceiling)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{INK}" '
                     'stroke-width="1.5" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{width - right}" y="{y - 5:.1f}" font-size="11" text-anchor="end" fill="{INK}">'
                     f'{_e(ceiling_label)}</text>')
    step = max(1, (n + 7) // 8)  # at most ~8 month labels
    for i, month in enumerate(months):
        if i % step == 0 or i == n - 1:
            # The first and last labels align on their point's side, so that neither is cut at the chart's edge.
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(f'<text x="{x_of(i):.1f}" y="{height - bottom + 18}" font-size="11" text-anchor="{anchor}" '
                         f'fill="{MUTED}">{_e(month)}</text>')
    for s in series:
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(s.values))
        if len(s.values) > 1:
            parts.append(f'<polyline points="{points}" fill="none" stroke="{s.colour}" stroke-width="2.5"/>')
        for i, v in enumerate(s.values):
            parts.append(f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="3.5" fill="{s.colour}">'
                         f'<title>{_e(s.label)}, {_e(months[i])} : {_e(fmt(v))}</title></circle>')
    legend_x = left
    for s in series:
        parts.append(f'<rect x="{legend_x}" y="{height - 14}" width="12" height="12" fill="{s.colour}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="{height - 4}" font-size="12" fill="{INK}">{_e(s.label)}</text>')
        legend_x += 24 + 7 * len(s.label)
    parts.append("</svg>")
    return "".join(parts)


def _curve_description(months: Sequence[str], series: Sequence[Series], fmt: Formatter) -> str:
    if not months:
        return "Aucune donnée."
    return " ; ".join(f"{s.label} : {fmt(s.values[-1])} fin {months[-1]}" for s in series if s.values)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


CASH_COLOURS = (SERIES_COLOURS[2], SERIES_COLOURS[1])
CASH_NAMES = ("Encaissements attendus", "Décaissements attendus")


def _cash_description(labels: Sequence[str], receipts: Sequence[Decimal], payments: Sequence[Decimal],
                      fmt: Formatter) -> str:
    """What the cash chart shows, for a screen reader: each period with money in or out."""
    return " ; ".join(f"{label} : entrées {fmt(r)}, sorties {fmt(p)}"
                      for label, r, p in zip(labels, receipts, payments) if r or p) or "Aucun montant attendu."


def _cash_head(ident: str, width: int, height: int, title: str, description: str) -> list[str]:
    """The opening of a cash chart's SVG: its box, title and description (ids unique per drawing: the page holds
    both the wide and the phone drawing)."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" class="chart" font-family="DejaVu Sans, sans-serif">',
        f'<title id="{ident}-title">{_e(title)}</title>',
        f'<desc id="{ident}-desc">{_e(description)}</desc>',
    ]


def cash_columns(labels: Sequence[str], receipts: Sequence[Decimal], payments: Sequence[Decimal], *,
                 fmt: Formatter, title: str, width: int = 720, height: int = 260) -> str:
    """Two columns per period (money expected in, money expected out), side by side, on one scale starting at 0;
    the figures are in each column's <title> and in the table beside the chart."""
    left, right, top, bottom = 92, 16, 16, 56
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(labels), 1)
    top_value = max([*receipts, *payments, Decimal(1)])
    slot = plot_w / n
    col_w = max(slot * 0.38, 1.0)
    colours, names = CASH_COLOURS, CASH_NAMES
    parts = _cash_head("cash", width, height, title, _cash_description(labels, receipts, payments, fmt))
    for k in range(5):
        value = top_value * k / 4
        y = top + plot_h - float(value / top_value) * plot_h
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="{MUTED}">'
                     f'{_e(fmt(value.quantize(Decimal(1))))}</text>')
    for i, label in enumerate(labels):
        x = left + slot * i + slot * 0.1
        for j, (value, colour, name) in enumerate(zip((receipts[i], payments[i]), colours, names)):
            h = float(value / top_value) * plot_h if value > 0 else 0.0
            parts.append(f'<rect x="{x + j * col_w:.1f}" y="{top + plot_h - h:.1f}" width="{col_w:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{_e(name)}, {_e(label)} : {_e(fmt(value))}'
                         f'</title></rect>')
        parts.append(f'<text x="{left + slot * i + slot / 2:.1f}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="end" fill="{MUTED}" transform="rotate(-45 {left + slot * i + slot / 2:.1f} '
                     f'{top + plot_h + 14})">{_e(label)}</text>')
    legend_x = left
    for colour, name in zip(colours, names):
        parts.append(f'<rect x="{legend_x}" y="{height - 14}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="{height - 4}" font-size="12" fill="{INK}">{_e(name)}</text>')
        legend_x += 24 + 7 * len(name)
    parts.append("</svg>")
    return "".join(parts)


def cash_rows(labels: Sequence[str], receipts: Sequence[Decimal], payments: Sequence[Decimal], *,
              fmt: Formatter, title: str, width: int = 320) -> str:
    """The same figures as `cash_columns`, drawn for a phone: one row per period, its two bars lying down with their
    amounts written beside them at 12 px. At 390 px the columns' 720-wide drawing shrinks to half its size (labels
    of 5 px); this one is drawn about the width it is shown in a card (330 px at 390), so its text keeps its size."""
    label_w, gap, row_h, bar_h, top = 66, 4, 36, 12, 22
    plot_w = width - label_w - 8
    top_value = max([*receipts, *payments, Decimal(1)])
    colours, names = CASH_COLOURS, CASH_NAMES
    height = top + row_h * max(len(labels), 1) + 4
    parts = _cash_head("cash-rows", width, height, title, _cash_description(labels, receipts, payments, fmt))
    legend_x = 0
    for colour, name in zip(colours, names):
        parts.append(f'<rect x="{legend_x}" y="2" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="12" font-size="12" fill="{INK}">{_e(name.split()[0])}</text>')
        legend_x += 130
    for i, label in enumerate(labels):
        y = top + row_h * i
        parts.append(f'<line x1="0" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="0" y="{y + row_h / 2 + 4:.1f}" font-size="13" fill="{INK}">{_e(label)}</text>')
        for j, (value, colour, name) in enumerate(zip((receipts[i], payments[i]), colours, names)):
            bar_y = y + gap + j * (bar_h + gap + 2)
            w = float(value / top_value) * plot_w * 0.55 if value > 0 else 0.0  # room left for the amount
            parts.append(f'<rect x="{label_w}" y="{bar_y:.1f}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                         f'<title>{_e(name)}, {_e(label)} : {_e(fmt(value))}</title></rect>')
            if value > 0:
                parts.append(f'<text x="{label_w + w + 4:.1f}" y="{bar_y + bar_h - 1:.1f}" font-size="12" '
                             f'fill="{INK}">{_e(fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)
