"""The ECB rate table of late-payment interest: `flask rates list`, `flask rates set`, `flask rates delete`.

The table is reference data shared by every marché (seeded by migration 0005 with the real rates); an operator adds
a change when the ECB decides one (check each 1 January and 1 July: the rate of a half-year is the one in force on
its first day).
"""
from __future__ import annotations

from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup

from chorus_chain.extensions import db
from chorus_chain.formatting import day as fmt_day
from chorus_chain.formatting import exact, number
from chorus_chain.models.base import utcnow

rates_cli = AppGroup("rates", help="Taux de la BCE des intérêts moratoires.")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"« {value} » n'est pas une date AAAA-MM-JJ (par exemple 2026-01-01).") from None


@rates_cli.command("list")
def rates_list():
    """Print every ECB rate change, then the rate of late-payment interest of each half-year."""
    from chorus_chain.operations import interest

    rows = interest.rates()
    if not rows:
        click.echo("La table des taux est vide : aucun intérêt moratoire ne peut être calculé.")
        return
    click.echo("Taux de la BCE (opérations principales de refinancement), par date d'effet :")
    for row in rows:
        click.echo(f"  {row.effective_from.isoformat()}  {exact(row.rate_percent):>7} %  {row.source}")
    today = utcnow().date()
    click.echo("Taux des intérêts moratoires par semestre (taux BCE au premier jour + 8 points) :")
    for half in interest.half_year_rates(interest.rate_table(), today.year - 3, today.year):
        click.echo(f"  {half.label:<22} {number(half.rate_percent, 2):>6} %  (BCE {number(half.ecb.rate_percent, 2)} %"
                   f" en vigueur depuis le {fmt_day(half.ecb.effective_from)})")


@rates_cli.command("set")
@click.argument("effective_from")
@click.argument("rate")
@click.option("--source", default="saisie par un opérateur (flask rates set)", show_default=True,
              help="D'où vient le taux (décision de la BCE, Banque de France…).")
def rates_set(effective_from: str, rate: str, source: str):
    """Record the ECB rate RATE (in percent, e.g. 2.15) in force from EFFECTIVE_FROM (YYYY-MM-DD)."""
    from chorus_chain.operations import OperationError, interest

    day = _day(effective_from)
    try:
        row = interest.set_rate(day, rate, source=source, now=utcnow())
    except OperationError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Taux de la BCE au {fmt_day(row.effective_from)} : {exact(row.rate_percent)} % enregistré.")


@rates_cli.command("delete")
@click.argument("effective_from")
def rates_delete(effective_from: str):
    """Remove the ECB rate change of EFFECTIVE_FROM (YYYY-MM-DD)."""
    from chorus_chain.operations import OperationError, interest

    day = _day(effective_from)
    try:
        interest.delete_rate(day)
    except OperationError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    click.echo(f"Taux du {fmt_day(day)} supprimé.")


def init_app(app: Flask) -> None:
    app.cli.add_command(rates_cli)
