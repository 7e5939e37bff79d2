"""The forecast as a download: one row per amount, the same figures and dates as the page.

CSV: semicolon-separated with a UTF-8 byte order mark and decimal commas, what French Excel opens as columns. XLSX
(openpyxl, already a dependency for the price schedule's import): real numbers and dates, so the person who does the
books can sum and sort. Neither holds anything the page does not show.
"""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from openpyxl import Workbook

HEADERS = ("Sens", "Marché", "Contrepartie", "Pièce ou état", "Où en est l'argent", "Montant (€)", "Base du montant",
           "Date attendue", "Au plus tôt", "Au plus tard", "Échéance légale", "Retard sur l'échéance (jours)",
           "Intérêts moratoires et indemnité si payé à la date attendue (€)", "Sur quoi repose la date")


def rows(forecast) -> list[tuple]:
    return [(flow.direction, flow.marche_reference, flow.counterpart, flow.label, flow.stage_now, flow.amount,
             flow.amount_basis, flow.expected, flow.low, flow.high, flow.legal_due, flow.slip_days, flow.interest,
             flow.explanation) for flow in forecast.flows]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def to_csv(forecast) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(HEADERS)
    for row in rows(forecast):
        writer.writerow([_text(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(forecast) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Trésorerie"
    sheet.append(HEADERS)
    for row in rows(forecast):
        sheet.append(list(row))
    for cell in sheet["F"][1:] + sheet["M"][1:]:
        cell.number_format = '#,##0.00 "€"'
    for column in "HIJK":
        for cell in sheet[column][1:]:
            cell.number_format = "DD/MM/YYYY"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
