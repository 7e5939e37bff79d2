"""Compare what two sweeps wrote: two copies of one world swept by two trees (`deadline_sweep.py --keep-copy`),
table by table, row by row — the proof that an optimisation of the sweep writes the same rows (issue 20).

Each table's rows are compared whole, ids included (two copies of one world draw the same ids when the same rows are
written in the same order), less the columns stamped with the wall clock at insert (`IGNORED`: an e-mail's and an
outbox job's creation instant). Prints, per table, the rows of each side and how many of each side the other lacks,
with a few of them; exits 1 on any difference.

    .venv/bin/python bench/compare_swept.py chorus_sweep_dgp_batch_500 chorus_h4_sweep_b_batch_500
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from dashboards import _admin_url_for  # noqa: E402

# What the sweep writes, and what it reads back into the read model.
TABLES = ("deadline", "piece", "piece_event", "notification", "mail_message", "outbox_job", "webhook_delivery",
          "board_row", "board_count")
# Stamped with the wall clock at insert (`utcnow` defaults), not by the sweep's instant: differ between any two runs.
IGNORED = {"mail_message": ("created_at",), "outbox_job": ("created_at", "available_at")}


def rows_of(database: str, table: str) -> Counter:
    """The table's rows as JSON texts (the ignored columns removed), counted (a multiset: no row is unique by
    itself for every table)."""
    import psycopg

    removed = "".join(f" - '{column}'" for column in IGNORED.get(table, ()))
    with psycopg.connect(_admin_url_for(database)) as conn:
        found = Counter()
        with conn.cursor(name=f"rows_{table}") as cursor:  # server-side: board_row holds hundreds of thousands
            cursor.itersize = 20_000
            cursor.execute(f"SELECT (to_jsonb(t){removed})::text FROM {table} t")
            for (text,) in cursor:
                found[text] += 1
        return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tables", nargs="*", default=list(TABLES))
    parser.add_argument("--show", type=int, default=3, help="differing rows shown per side and table")
    args = parser.parse_args(argv)
    different = False
    for table in args.tables:
        a, b = rows_of(args.a, table), rows_of(args.b, table)
        only_a, only_b = a - b, b - a
        print(f"{table}: {sum(a.values())} rows in A, {sum(b.values())} in B; "
              f"{sum(only_a.values())} only in A, {sum(only_b.values())} only in B", flush=True)
        for side, rows in (("A", only_a), ("B", only_b)):
            for text in list(rows)[:args.show]:
                print(f"  only in {side}: {text[:600]}")
        different |= bool(only_a or only_b)
    print("the same rows" if not different else "DIFFERENT")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
