"""`flask board recompute [--check]`: the dashboards' read model against the pieces (issue 20)."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

board_cli = AppGroup("board", help="Modèle de lecture des tableaux de bord (board_row, board_count et ses cumuls).")


@board_cli.command("recompute")
@click.option("--check", is_flag=True, help="Ne rien changer ; code de sortie 1 s'il y a une différence.")
def board_recompute(check: bool):
    """Recompute the read model from the pieces and report the differences per table; without --check, correct
    them (and fold the rollups) and commit."""
    from chorus_chain.extensions import db
    from chorus_chain.operations.board.rebuild import recompute

    found = recompute(check=check)
    click.echo(f"board_row : {found.rows} ligne(s) attendue(s) ; {found.missing} manquante(s), {found.extra} en trop, "
               f"{found.different} différente(s).")
    click.echo(f"board_count : {found.buckets_different} groupe(s) différent(s).")
    for table, different in found.coarse_different.items():
        click.echo(f"{table} : {different} groupe(s) différent(s).")
    if found.pieces:
        click.echo("Pièces concernées (20 premières) : " + ", ".join(str(piece_id) for piece_id in found.pieces))
    if check:
        db.session.rollback()
        if found.total:
            raise SystemExit(1)
        click.echo("Le modèle de lecture est exact.")
        return
    db.session.commit()
    click.echo("Corrigé." if found.total else "Le modèle de lecture était exact : rien à corriger.")


def init_app(app: Flask) -> None:
    app.cli.add_command(board_cli)
