"""The read model's write of a set of pieces (`board.maintain._in_place`, the statement every writer runs on
PostgreSQL: a user's action, the sweep's batches), measured on a seeded database as the application runs it (issue 20).

The application is built in this process (`deadline_sweep.app_for`: the role `chorus_app`, row-level security, the
connections' `force_custom_plan`), under system access as `board.refresh` runs it; the pieces are those of the
earliest open clocks (a sweep's batch takes the earliest due), `--sizes` of them (500: a sweep's batch; 1: a user's
action). For each size:

1. `EXPLAIN (ANALYZE, BUFFERS)` of the statement, rolled back: execution and planning ms, shared buffers, the
   `new_row` CTE's own time (`rows.board_select`), and the sub-plans that ran the most (loops);
2. with `--generic`, the same under PostgreSQL's generic plan (`PREPARE`, `EXPLAIN ANALYZE EXECUTE` under
   `plan_cache_mode = force_generic_plan`);
3. `--runs` executions as `refresh` makes them (`session.execute`, each in a savepoint rolled back), under the
   connection's own mode (`custom`), under `auto` and under `generic` (`force_generic_plan`; `--modes`): the median CPU of the database's backend per
   execution (/proc/<pid>/schedstat: the server runs on this machine), planning included — what EXPLAIN does not show
   of a prepared statement — and, under `auto`, whether PostgreSQL kept a generic plan (`pg_prepared_statements`).

The read model is exact when it starts, so the statement finds nothing to change: it measures the building of the
rows and their comparison, not the writes of a sweep that changed the pieces. Nothing is asserted; nothing stays
written (every execution is rolled back).

    .venv/bin/python bench/explain_refresh.py --database h1_100k
    .venv/bin/python bench/explain_refresh.py --database h1_100k --sizes 500 1 --generic --runs 20
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import deadline_sweep  # noqa: E402
import psycopg  # noqa: E402


PLAN_MODES = {"custom": "force_custom_plan", "auto": "auto", "generic": "force_generic_plan"}


def backend_cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def nodes(plan: dict, depth: int = 0):
    yield depth, plan
    for child in plan.get("Plans", ()):
        yield from nodes(child, depth + 1)


def summary(explained: dict) -> dict:
    plan = explained["Plan"]
    walked = list(nodes(plan))
    cte = next((node for _, node in walked if node.get("Subplan Name") == "CTE new_row"), None)
    subplans = sorted(((node.get("Actual Loops", 0), node.get("Subplan Name") or node.get("Parent Relationship"),
                        node["Node Type"], node.get("Actual Total Time", 0) * node.get("Actual Loops", 0))
                       for _, node in walked if (node.get("Subplan Name") or "").startswith("SubPlan")),
                      reverse=True)
    return {"execution_ms": explained.get("Execution Time"), "planning_ms": explained.get("Planning Time"),
            "buffers": plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0),
            "new_row_ms": cte and cte.get("Actual Total Time"), "new_rows": cte and cte.get("Actual Rows"),
            "subplans": len(subplans), "subplan_loops": sum(loops for loops, *_ in subplans),
            "top_subplans": subplans[:6]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--sizes", type=int, nargs="*", default=[500, 1])
    parser.add_argument("--generic", action="store_true", help="also EXPLAIN the generic plan")
    parser.add_argument("--runs", type=int, default=12, help="executions per size and mode for the CPU")
    parser.add_argument("--modes", nargs="*", default=["custom", "auto", "generic"], choices=PLAN_MODES)
    parser.add_argument("--plans", action="store_true", help="print the plans' text")
    parser.add_argument("--json", help="write the figures there")
    args = parser.parse_args(argv)

    from sqlalchemy import text

    app = deadline_sweep.app_for(args.database)
    results = {}
    with app.app_context():
        from chorus_chain.access import system_access
        from chorus_chain.extensions import db
        from chorus_chain.models import BoardRow
        from chorus_chain.operations.board import maintain

        session = db.session
        statement = maintain._in_place(BoardRow.__table__)
        # The refresh's own parameters besides the pieces, if it has them (`maintain.PLAN_MODE`: the mode it sets
        # back; an older tree's statement has none): the connection's own mode.
        others = {name: "force_custom_plan" for name in ("plan_cache_mode",)
                  if name in statement.compile(dialect=db.engine.dialect).binds}
        compiled = statement.params(piece_ids=[0], **others).compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
        sql = str(compiled)
        fixed = dict(compiled.construct_expanded_state().parameters)

        def bound(ids):
            return {**fixed, "piece_ids": ids}

        with system_access("bench: explain the read model's write"):
            ordered = session.scalars(text(
                "SELECT piece_id FROM (SELECT piece_id, min(due_at) AS due FROM deadline WHERE done_at IS NULL "
                "AND piece_id IS NOT NULL GROUP BY piece_id) AS d ORDER BY due, piece_id LIMIT :n"),
                {"n": max(args.sizes)}).all()
            session.rollback()
            for size in args.sizes:
                ids = sorted(ordered[:size])
                figures = results[size] = {}
                with system_access("bench: explain the read model's write"):
                    connection = session.connection()
                    cursor = psycopg.ClientCursor(connection.connection.driver_connection)
                    explained = connection.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, bound(ids)).scalar_one()[0]
                    figures["custom"] = summary(explained)
                    if args.plans:
                        print(json.dumps(explained["Plan"], indent=1)[:20000])
                    # Prepared on the server, the other parameters as literals of its text: the array alone is a
                    # parameter, as in the application's prepared statement. A utility statement (EXPLAIN EXECUTE,
                    # EXECUTE) takes no parameter: the array as a literal there.
                    prepared = cursor.mogrify(sql, {**bound(ids), "piece_ids": None}).replace(
                        "NULL::INTEGER[]", "$1::INTEGER[]")
                    connection.exec_driver_sql("PREPARE bench_refresh(int[]) AS " + prepared.replace("%", "%%"))
                    execute = cursor.mogrify("EXECUTE bench_refresh(%(piece_ids)s)", {"piece_ids": ids}).replace(
                        "%", "%%")
                    if args.generic:
                        connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
                        generic = connection.exec_driver_sql(
                            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + execute).scalar_one()[0]
                        figures["generic"] = summary(generic)
                    connection.exec_driver_sql("DEALLOCATE bench_refresh")
                session.rollback()
                for mode in args.modes:
                    cpu = []
                    with system_access("bench: the read model's write, timed"):
                        connection = session.connection()
                        connection.exec_driver_sql(f"SET LOCAL plan_cache_mode = {PLAN_MODES[mode]}")
                        # PREPARE is not transactional: the statement outlives each run's rollback to its savepoint.
                        connection.exec_driver_sql("PREPARE bench_refresh(int[]) AS " + prepared.replace("%", "%%"))
                        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
                        for _ in range(args.runs):
                            connection.exec_driver_sql("SAVEPOINT bench_run")
                            before = backend_cpu_ns(pid)
                            connection.exec_driver_sql(execute).first()
                            cpu.append((backend_cpu_ns(pid) - before) / 1e6)
                            # What it wrote, and the plan cache's mode it set back, undone.
                            connection.exec_driver_sql("ROLLBACK TO SAVEPOINT bench_run")
                        plans = connection.exec_driver_sql(
                            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                            "WHERE name = 'bench_refresh'").one()
                        connection.exec_driver_sql("DEALLOCATE bench_refresh")
                    session.rollback()
                    figures[f"cpu_{mode}"] = {"median_ms": round(statistics.median(cpu), 2),
                                              "first_ms": round(cpu[0], 2), "min_ms": round(min(cpu), 2),
                                              "generic_plans": plans[0], "custom_plans": plans[1]}
                for name, values in figures.items():
                    shown = {key: value for key, value in values.items() if key != "top_subplans"}
                    print(f"{size:>4} pieces {name:<12} {shown}", flush=True)
                    if values.get("top_subplans"):
                        print(f"{'':>24} busiest sub-plans (loops, name, node, ms): {values['top_subplans'][:4]}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
