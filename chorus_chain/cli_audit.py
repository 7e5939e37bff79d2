"""`flask audit verify`: check every piece's hash-chained history; exit status 1 at the first break."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

audit_cli = AppGroup("audit", help="Journal d'audit des pièces (chaînes d'empreintes).")


@audit_cli.command("verify")
def audit_verify():
    """Check every piece's events (hashes, head, transitions, deposited facts); exit 1 on the first break."""
    from chorus_chain.operations.audit import verify_pieces

    result = verify_pieces()
    if not result.ok:
        click.echo(f"ALTÉRATION DÉTECTÉE — {result.broken}", err=True)
        raise SystemExit(1)
    click.echo(f"{result.pieces} pièce(s), {result.events} événement(s) : toutes les chaînes sont intactes.")


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_cli)
