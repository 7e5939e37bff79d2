"""The unfiltered Tableau de bord's counts — « Par statut » (`counts.status_sums`) and « Par marché »
(`marches.marche_lines`) — in one statement: two branches of a UNION ALL, each the statement it replaces as a
subquery, each planned apart (the same rollup rows read), told apart by a `kind` column. One round trip and one
execution of SQLAlchemy's instead of two on every Tableau de bord (bench/page_cpu.py).
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from sqlalchemy import literal, null, select, union_all

from chorus_chain import access
from chorus_chain.extensions import db
from chorus_chain.operations.board_reading import counts, marches


def unfiltered(structure_id: int, works: bool | None, limit: int | None = None) -> tuple[
        list[tuple[str, int, Decimal]], tuple[list[marches.MarcheLine], marches.OtherMarches]]:
    """(`counts.status_sums`, `marches.marche_lines`) of the structure within `works`: one query."""
    limit = marches.CARD_LINES if limit is None else limit
    params = {"structure_id": structure_id} if works is None else {"structure_id": structure_id, "works": works}
    statuses, lines = [], []
    for row in db.session.execute(_statement(works, max(limit, 1)), params):
        if row[0] == "status":  # kind, status, -, -, count, amount
            statuses.append((row[1], int(row[4]), Decimal(row[5])))
        else:  # kind, -, then `marches.lines_statement`'s columns
            lines.append(row[2:])
    return statuses, marches.lines_of(lines, limit)


@lru_cache(maxsize=32)
def _statement(works: bool | None, limit: int):
    """Built once per process for each rights' variant and size of the card (`access.built_once`). Columns: kind,
    status, then those of `marches.lines_statement` (marché, reference, count, amount, …), where the status branch
    puts its count and amount (the same types: PostgreSQL matches a UNION's columns by position and type)."""
    by_status = counts.status_sums_statement(works is not None).subquery("by_status")
    by_marche = marches.lines_statement(works, limit).subquery("by_marche")
    status, count, amount = by_status.c
    marche_columns = list(by_marche.c)
    return access.built_once(union_all(
        select(literal("status").label("kind"), status, null(), null(), count, amount,
               *([null()] * (len(marche_columns) - 4))),
        select(literal("marche").label("kind"), null(), *marche_columns)))
