"""Command-line tools of the marchés: `flask deadlines sweep|clock`, `flask marche export <REFERENCE>`."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from chorus_chain.extensions import db
from chorus_chain.models.base import utcnow

deadlines_cli = AppGroup("deadlines", help="Échéances (DC4, et plus tard les pièces).")
marche_cli = AppGroup("marche", help="Marchés.")


def _instant(value: str | None) -> datetime:
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("un instant ISO-8601, par exemple 2026-03-01T00:00:00+01:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@deadlines_cli.command("sweep")
@click.option("--now", "now_text", default=None, help="Instant de référence (ISO-8601) ; par défaut maintenant.")
@click.option("--force", is_flag=True, help="Accepter un --now antérieur au dernier passage ou loin de l'heure réelle.")
def deadlines_sweep(now_text: str | None, force: bool):
    """Apply every due deadline once, at its due instant (tacit DC4 acceptance, tacit validation, MOE late...), send
    the reminders before the coming ones, then the e-mails they queued. A --now before the clock's last sweep or more
    than an hour from the real time is refused unless --force."""
    from chorus_chain.jobs.clock import InstantRefused, check_instant, tick

    now = _instant(now_text)
    if now_text and not force:
        try:
            check_instant(now)
        except InstantRefused as refused:
            raise click.ClickException(str(refused)) from None
    result = tick(now)
    click.echo(f"{result['done']} échéance(s) échue(s) traitée(s), dont {result['applied']} appliquée(s) ; "
               f"{result['reminded']} rappel(s) envoyé(s) ; {result['retenues_releasable']} retenue(s) de garantie "
               f"devenue(s) libérable(s).")


@deadlines_cli.command("clock")
@click.option("--interval", type=float, default=None, help="Secondes entre deux passages (CLOCK_INTERVAL_SECONDS, 60).")
@click.option("--ticks", type=int, default=None, help="S'arrêter après ce nombre de passages (essais).")
def deadlines_clock(interval: float | None, ticks: int | None):
    """The clock process (Procfile `clock`): sweep the deadlines every minute from PostgreSQL alone — Redis down, it
    still sweeps; one clock at a time (advisory lock); missed ticks caught up, each deadline at its due instant."""
    import logging

    from chorus_chain.jobs.clock import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_forever(interval, ticks=ticks)


@marche_cli.command("export")
@click.argument("reference")
def marche_export(reference: str):
    """Print the JSON export of a marché (format chorus-chain/marche-export/v2)."""
    from chorus_chain.models import Marche
    from chorus_chain.operations.export import marche_export as build

    marche = db.session.scalar(select(Marche).where(Marche.reference == reference))
    if marche is None:
        raise click.ClickException(f"Aucun marché ne porte la référence {reference!r}.")
    from chorus_chain.access import system_access

    # An operator on the server, for no user: every piece of the marché (a user's export reads only what it sees).
    with system_access("flask marche export: an operator's command line"):
        document = build(marche, utcnow(), None)
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


def init_app(app: Flask) -> None:
    app.cli.add_command(deadlines_cli)
    app.cli.add_command(marche_cli)
