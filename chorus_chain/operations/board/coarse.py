"""The coarser rollups (issue 20): `board_count`'s deltas summed along fewer dimensions, one table per thing the
Tableau de bord shows, so that it reads rows bounded by what it shows rather than every bucket of a structure.

- « Par statut »: per (structure, works, status) — `board_status_count`;
- « Par marché »: per (structure, works, marché) — `board_marche_count`;
- the overview of one status (the « Par statut » links): per (structure, status, works, marché) —
  `board_status_marche_count`;
- the overview of one cadre (the « Cadre » filter, alone or with a status): per (structure, cadre, status, works,
  marché) — `board_cadre_marche_count`;
- the companies (the « Entreprise émettrice » filter, « Montants par entreprise »): per (structure, marché,
  emitting party) — `board_party_count`, whose `paid` keeps only the pieces in a paid status.

Each is a function of board_count's buckets: whatever deltas a transaction adds to board_count, it adds their
projection here, in the same statement (`maintain.refresh`), as inserts only — no counter row for two transactions
to queue on. `rollup.compact` folds them, `rebuild.recompute` checks and corrects them, from the same projection.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal, or_, select

from chorus_chain.domain.statuses import PAID_STATUSES
from chorus_chain.models import (BoardCadreMarcheCount, BoardMarcheCount, BoardMoneyDelta, BoardPartyCount,
                                 BoardStatusCount, BoardStatusMarcheCount)
from chorus_chain.operations.board import rows


@dataclass(frozen=True)
class Coarse:
    """A coarser rollup: its model, its key (columns of board_count's bucket) and its measures, computed from a
    bucket of board_count and its measures by `values`."""

    model: type
    keys: tuple[str, ...]
    measures: tuple[str, ...]
    values: Callable[[Mapping, Mapping], list]
    # The same as SQL expressions on a selectable with board_count's bucket and measures (`projected`: the refresh
    # of PostgreSQL projects its deltas in its own statement). Written twice, so checked: `rebuild.recompute`
    # compares the stored rollups with `project` (Python) of the rows' sums, and the tests sweep then recompute.
    sql_values: Callable[[Any], list]

    @property
    def table(self):
        return self.model.__table__


def _same(*names: str):
    return lambda bucket, measures: [measures[name] for name in names]


def _same_sql(*names: str):
    return lambda delta: [delta.c[name] for name in names]


def _party(bucket: Mapping, measures: Mapping) -> list:
    # « Payé » on the companies' panel: what was paid on the pieces in a paid status (as parties.money_lines reads it).
    return [measures["n"], measures["sent_ttc"], measures["validated_ttc"],
            measures["paid"] if bucket["status"] in PAID_STATUSES else 0]


def _party_sql(delta) -> list:
    """`_party` in SQL."""
    return [delta.c.n, delta.c.sent_ttc, delta.c.validated_ttc,
            case((delta.c.status.in_(sorted(PAID_STATUSES)), delta.c.paid), else_=literal(0))]


SUMS = ("n", "signed_ttc", "paid", "under_way")  # « Par statut », « Par marché »: board_count's own measures
STATUS = Coarse(BoardStatusCount, ("structure_id", "works", "status"), SUMS, _same(*SUMS), _same_sql(*SUMS))
MARCHE = Coarse(BoardMarcheCount, ("structure_id", "works", "marche_id"), SUMS, _same(*SUMS), _same_sql(*SUMS))
STATUS_MARCHE = Coarse(BoardStatusMarcheCount, ("structure_id", "status", "works", "marche_id"), SUMS, _same(*SUMS),
                       _same_sql(*SUMS))
CADRE_MARCHE = Coarse(BoardCadreMarcheCount, ("structure_id", "cadre", "status", "works", "marche_id"), SUMS,
                      _same(*SUMS), _same_sql(*SUMS))
PARTY = Coarse(BoardPartyCount, ("structure_id", "marche_id", "emitter_party_id"),
               ("n", "sent_ttc", "validated_ttc", "paid"), _party, _party_sql)
ROLLUPS = (STATUS, MARCHE, STATUS_MARCHE, CADRE_MARCHE, PARTY)


def _money(bucket: Mapping, measures: Mapping) -> list:
    return _party(bucket, measures)[1:]


def _money_sql(delta) -> list:
    return _party_sql(delta)[1:]


# « Montants par entreprise »'s deltas (`money`): the companies' money per (structure, emitting party), written with
# the rollups but folded into board_money_line by `money.fold`, not summed in place by `rollup.compact` — so not
# one of ROLLUPS (which the compaction folds and the recompute compares as sums).
MONEY = Coarse(BoardMoneyDelta, ("structure_id", "emitter_party_id"), ("sent_ttc", "validated_ttc", "paid"),
               _money, _money_sql)
# What the transaction of each change inserts (`maintain.refresh`).
WRITTEN = (*ROLLUPS, MONEY)


def project(fine: Mapping[tuple, list], rollups=ROLLUPS) -> dict[Coarse, dict[tuple, list]]:
    """board_count's sums (bucket in `rows.BUCKET` order → measures in `rows.MEASURES` order: deltas, or totals)
    summed into each coarser rollup of `rollups`: rollup → key → measures (in the rollup's order; zeros kept)."""
    # Each bucket and its measures named once, not once per rollup (a sweep's batch projects a thousand buckets).
    named = [(dict(zip(rows.BUCKET, key)), dict(zip(rows.MEASURES, measures))) for key, measures in fine.items()]
    summed: dict[Coarse, dict[tuple, list]] = {}
    for rollup in rollups:
        width = len(rollup.measures)
        totals: dict[tuple, list] = defaultdict(lambda: [0] * width)
        for bucket, measures in named:
            total = totals[tuple(bucket[name] for name in rollup.keys)]
            for index, value in enumerate(rollup.values(bucket, measures)):
                total[index] += value
        summed[rollup] = totals
    return summed


def projected(rollup: Coarse, delta):
    """`project` in SQL for one rollup: SELECT key, SUM(values) FROM delta GROUP BY key, the keys whose every sum
    is zero left out (as `as_rows` leaves them). `delta`: a selectable with board_count's bucket and measures."""
    keys = [delta.c[name] for name in rollup.keys]
    sums = [func.sum(value) for value in rollup.sql_values(delta)]
    return (select(*keys, *(total.label(name) for total, name in zip(sums, rollup.measures)))
            .group_by(*keys).having(or_(*(total != 0 for total in sums))))


def as_rows(rollup: Coarse, sums: Mapping[tuple, list]) -> list[dict]:
    """The rows to insert for these sums (a key whose every measure is zero writes nothing)."""
    return [{**dict(zip(rollup.keys, key)), **dict(zip(rollup.measures, values))}
            for key, values in sums.items() if any(values)]


def grouped(rollup: Coarse, where=None):
    """SELECT key, SUM(measures) FROM the rollup [WHERE …] GROUP BY key: what its stored deltas add up to."""
    table = rollup.table
    keys = [table.c[name] for name in rollup.keys]
    statement = select(*keys, *(func.sum(table.c[name]).label(name) for name in rollup.measures))
    if where is not None:
        statement = statement.where(where)
    return statement.group_by(*keys)


def sums(result, rollup: Coarse) -> dict[tuple, list]:
    """key → measures read back from `grouped` (keys summing to zero left out)."""
    width = len(rollup.keys)
    found = {}
    for row in result:
        values = [rows.money(value) for value in row[width:]]
        if any(values):
            found[tuple(row[:width])] = values
    return found
