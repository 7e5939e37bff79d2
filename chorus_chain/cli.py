"""Command-line tools: `flask demo seed`, `flask outbox dispatch`; the marchés' and the audit's in their modules."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from chorus_chain import cli_audit, cli_marches, cli_rates
from chorus_chain.extensions import db

demo_cli = AppGroup("demo", help="Données de démonstration.")
outbox_cli = AppGroup("outbox", help="Travaux en attente (e-mails, documents).")
operator_cli = AppGroup("operator", help="Opérateurs du support de la plateforme.")


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


@operator_cli.command("grant")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Retirer le rôle au lieu de le donner.")
def operator_grant(email: str, revoke: bool):
    """Make an existing account an operator of the support queue (or stop it being one)."""
    from chorus_chain.operations.accounts import find_account

    account = find_account(email)
    if account is None:
        raise click.ClickException(f"Aucun compte pour {email}.")
    account.is_operator = not revoke
    db.session.commit()
    click.echo(f"{account.email} {'n’est plus' if revoke else 'est désormais'} opérateur du support.")


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(operator_cli)
    cli_marches.init_app(app)
    cli_audit.init_app(app)
    cli_rates.init_app(app)
