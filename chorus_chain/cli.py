"""Command-line tools: `flask demo seed`, `flask outbox dispatch`; the marchés' and the audit's in their modules."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from chorus_chain import cli_audit, cli_marches
from chorus_chain.extensions import db

demo_cli = AppGroup("demo", help="Données de démonstration.")
outbox_cli = AppGroup("outbox", help="Travaux en attente (e-mails, documents).")


@demo_cli.command("seed")
def demo_seed():
    """Create the demo companies, people and marché (idempotent)."""
    from chorus_chain import demo

    demo.seed()
    db.session.commit()
    click.echo("Démo prête. Comptes (mot de passe pour tous : %s) :" % demo.DEMO_PASSWORD)
    for email, name, what in demo.logins():
        click.echo(f"  {email:<38} {name} — {what}")


@outbox_cli.command("dispatch")
def outbox_dispatch():
    """Hand the undispatched outbox jobs to the queue (or run them inline without REDIS_URL)."""
    from chorus_chain.jobs.queue import dispatch_outbox

    click.echo(f"{dispatch_outbox()} travail(s) transmis.")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(outbox_cli)
    cli_marches.init_app(app)
    cli_audit.init_app(app)
