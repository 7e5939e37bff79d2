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


# `--told`: two sweeps that drew their ids in other orders — N sweepers at once (`deadline_sweep.py --sweepers`),
# each committing its batches as it goes — and cut the deadlines into other batches, hence other digests. Compared:
# the rows without the ids the database draws (the new clocks' ids, which the board rows name too), the in-app
# digests and the e-mails by what they tell, item by item (as tests/integration/test_sweep_batches.py's snapshot
# does), the outbox by its jobs, the rollups by their sums per bucket (the deltas of other batches, the same totals).
_DRAWN = "- 'id'"
_CLOCK_IDS = "- 'payment_clock_id' - 'corrections_clock_id' - 'interest_to_pay_clock_id' - 'interest_owed_clock_id'"
# An e-mail by what it tells, item by item: a digest's entries, or the one notification of a person told of one
# thing by a batch (the same item in a digest's terms: the batch cut elsewhere, the same told).
_MAIL_TOLD = (
    "SELECT jsonb_build_object('to', m.to_address, 'account', m.account_id, 'told', CASE"
    " WHEN m.template = 'deadlines_digest' THEN jsonb_build_object('name', s->>'name', 'siret', s->>'siret',"
    " 'entry', e::jsonb)"
    " WHEN m.context->'structure' IS NOT NULL AND m.context->>'text' IS NOT NULL THEN jsonb_build_object("
    "'name', m.context->'structure'->>'name', 'siret', m.context->'structure'->>'siret', 'entry', jsonb_build_object("
    "'kind', m.template, 'subject', m.context->>'subject', 'text', m.context->>'text', 'url', m.context->>'url'))"
    " ELSE (to_jsonb(m) - 'id' - 'created_at') END)::text"
    " FROM {source}"
    " LEFT JOIN LATERAL json_array_elements(CASE WHEN m.template = 'deadlines_digest'"
    " THEN m.context->'structures' END) AS s ON true"
    " LEFT JOIN LATERAL json_array_elements(s->'entries') AS e ON true")
TOLD = {
    "deadline": f"SELECT (to_jsonb(t) {_DRAWN})::text FROM deadline t",
    "piece_event": f"SELECT (to_jsonb(t) {_DRAWN})::text FROM piece_event t",
    "board_row": f"SELECT (to_jsonb(t) {_CLOCK_IDS})::text FROM board_row t",
    "notification": (
        "SELECT jsonb_build_object('account', account_id, 'structure', structure_id, 'kind', kind, 'at', created_at,"
        " 'read', read_at, 'item', CASE WHEN item IS NULL THEN jsonb_build_object('piece_id', piece_id, 'text', text,"
        " 'url', url) ELSE item::jsonb END)::text"
        " FROM notification LEFT JOIN LATERAL json_array_elements(CASE WHEN json_typeof(items) = 'array' THEN items END)"
        " AS item ON true"),
    "mail_message": _MAIL_TOLD.format(source="mail_message m"),
    # Each e-mail's outbox job, by what its e-mail tells (its payload names the e-mail's drawn id).
    "outbox_job": _MAIL_TOLD.format(source="outbox_job o JOIN mail_message m ON o.job = 'send_mail'"
                                           " AND m.id = (o.payload->>'mail_id')::int"),
    "webhook_delivery": "SELECT (to_jsonb(t) - 'id' - 'created_at' - 'outbox_job_id')::text FROM webhook_delivery t",
    "board_count": (
        "SELECT jsonb_build_object('bucket', jsonb_build_array(structure_id, marche_id, emitter_party_id, cadre, works,"
        " status), 'n', sum(n), 'signed', sum(signed_ttc), 'paid', sum(paid), 'sent', sum(sent_ttc),"
        " 'validated', sum(validated_ttc), 'under_way', sum(under_way))::text FROM board_count"
        " GROUP BY structure_id, marche_id, emitter_party_id, cadre, works, status"
        " HAVING sum(n) <> 0 OR sum(signed_ttc) <> 0 OR sum(paid) <> 0 OR sum(sent_ttc) <> 0"
        " OR sum(validated_ttc) <> 0 OR sum(under_way) <> 0"),
}


def rows_of(database: str, table: str, told: bool = False) -> Counter:
    """The table's rows as JSON texts (the ignored columns removed), counted (a multiset: no row is unique by
    itself for every table); `told`: as `TOLD` says."""
    import psycopg

    removed = "".join(f" - '{column}'" for column in IGNORED.get(table, ()))
    with psycopg.connect(_admin_url_for(database)) as conn:
        found = Counter()
        with conn.cursor(name=f"rows_{table}") as cursor:  # server-side: board_row holds hundreds of thousands
            cursor.itersize = 20_000
            cursor.execute(TOLD[table] if told and table in TOLD else
                           f"SELECT (to_jsonb(t){removed})::text FROM {table} t")
            for (text,) in cursor:
                found[text] += 1
        return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--tables", nargs="*", default=list(TABLES))
    parser.add_argument("--show", type=int, default=3, help="differing rows shown per side and table")
    parser.add_argument("--told", action="store_true",
                        help="sweeps by several sweepers at once: no drawn ids, digests item by item (TOLD)")
    args = parser.parse_args(argv)
    different = False
    for table in args.tables:
        a, b = rows_of(args.a, table, args.told), rows_of(args.b, table, args.told)
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
