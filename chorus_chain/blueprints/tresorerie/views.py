"""« Trésorerie »: the money the structure expects in and out, week by week then month by month, with a chart, a
table per marché and counterpart, the alerts, and the downloads (CSV, XLSX). Thin views on
`operations.tresorerie.reading`, which reads only what the structure sees."""
from __future__ import annotations

import io

from flask import Response, g, render_template, send_file
from markupsafe import Markup

from chorus_chain import charts
from chorus_chain.blueprints.pieces.views import require_piece_right
from chorus_chain.formatting import money
from chorus_chain.models.base import utcnow
from chorus_chain.operations.marches import today
from chorus_chain.operations.tresorerie import exports, reading
from chorus_chain.operations.tresorerie import forecast as forecast_rules
from chorus_chain.operations.tresorerie import periods
from chorus_chain.tenancy import has_right, tenant_blueprint

bp = tenant_blueprint("tresorerie", __name__)


@bp.context_processor
def tresorerie_helpers():
    return {"say": forecast_rules.say, "shown_of": periods.shown_of, "others_of": periods.others_of}


def _forecast():
    domains = frozenset(d for d in reading.ALL_DOMAINS if has_right(d, "consultation"))
    return reading.forecast_for(g.structure, today(utcnow()), domains)


@bp.get("/tresorerie")
@require_piece_right("consultation")
def index():
    forecast = _forecast()
    figures = ([p.short for p in forecast.periods], [p.receipts for p in forecast.periods],
               [p.payments for p in forecast.periods])
    title = "Encaissements et décaissements attendus, semaine par semaine puis mois par mois"
    # Two drawings of the same figures, the stylesheet showing one: columns on a wide screen, rows on a phone (the
    # columns' text would be 5 px high at 390 px).
    chart = Markup(charts.cash_columns(*figures, fmt=money, title=title))
    chart_phone = Markup(charts.cash_rows(*figures, fmt=money, title=title))
    return render_template("tresorerie/index.html", f=forecast, chart=chart, chart_phone=chart_phone)


def _download(body: bytes, mimetype: str, extension: str) -> Response:
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=f"trésorerie-{g.structure.siret}.{extension}")


@bp.get("/tresorerie.csv")
@require_piece_right("consultation")
def csv():
    return _download(exports.to_csv(_forecast()), "text/csv", "csv")  # Flask adds « ; charset=utf-8 » to a text/*


@bp.get("/tresorerie.xlsx")
@require_piece_right("consultation")
def xlsx():
    return _download(exports.to_xlsx(_forecast()),
                     "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
