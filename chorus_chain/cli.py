"""Command-line tools: `flask demo seed`, `flask outbox dispatch`; the marchés' and the audit's in their modules."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from chorus_chain import cli_audit, cli_board, cli_marches, cli_rates
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
    # What the seeding queued (the états' PDFs, the A15's and the A19's) is handed over like after any committed
    # change — without Redis, rendered here rather than by the first page someone opens.
    from chorus_chain.jobs.queue import dispatch_outbox

    dispatch_outbox()
    click.echo("Démo prête. Comptes (mot de passe pour tous : %s) :" % demo.DEMO_PASSWORD)
    for email, name, what in demo.logins():
        click.echo(f"  {email:<38} {name} — {what}")


@outbox_cli.command("dispatch")
def outbox_dispatch():
    """Hand the due outbox jobs to the queue (or run them inline without REDIS_URL)."""
    from chorus_chain.jobs.queue import dispatch_outbox

    click.echo(f"{dispatch_outbox()} travail(s) transmis.")


@outbox_cli.command("list")
@click.option("--failed", "only_failed", is_flag=True, help="Seulement les travaux en échec.")
@click.option("--limit", default=50, show_default=True)
def outbox_list(only_failed: bool, limit: int):
    """List the outbox's jobs not done (pending and failed), with their tries and last error."""
    from sqlalchemy import select

    from chorus_chain.models import OutboxJob

    statuses = ("failed",) if only_failed else ("pending", "failed")
    rows = db.session.scalars(select(OutboxJob).where(OutboxJob.status.in_(statuses))
                              .order_by(OutboxJob.id.desc()).limit(limit)).all()
    if not rows:
        click.echo("Aucun travail en échec." if only_failed else "Aucun travail en attente ni en échec.")
    for row in rows:
        state = "en échec" if row.status == "failed" else "en attente"
        click.echo(f"#{row.id} {row.job} {state}, {row.attempts} essai(s), créé le {row.created_at:%Y-%m-%d %H:%M} "
                   f"UTC {row.payload} — {row.last_error or 'sans erreur'}")


@outbox_cli.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Relancer tous les travaux en échec.")
def outbox_replay(ids: tuple[int, ...], all_failed: bool):
    """Replay failed outbox jobs (by id, or all of them): pending again, tries counted from zero."""
    from chorus_chain.jobs.outbox import failed_rows, replay
    from chorus_chain.jobs.queue import dispatch_outbox

    if all_failed:
        ids = tuple(row.id for row in failed_rows(limit=10_000))
        if not ids:
            click.echo("Aucun travail en échec : rien à relancer.")
            return
    if not ids:
        raise click.UsageError("Donnez les numéros des travaux à relancer, ou --all-failed.")
    replayed = [row_id for row_id in ids if replay(row_id) is not None]
    db.session.commit()
    for row_id in sorted(set(ids) - set(replayed)):
        click.echo(f"#{row_id} n'est pas en échec : laissé tel quel.", err=True)
    click.echo(f"{len(replayed)} travail(s) relancé(s) ; {dispatch_outbox()} transmis.")


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
    cli_board.init_app(app)
    cli_rates.init_app(app)
