"""EXPLAIN (ANALYZE, BUFFERS) of every statement the dashboards run, on a seeded benchmark database (issue 20).

Logs in as each busy account of the benchmark (`dashboards_seed.BENCH_LOGINS`: titulaire, maître d'œuvre, maître
d'ouvrage, sous-traitant) through the application's test client — the real login form, the real views, the
application's role `chorus_app` so that row-level security applies — opens each dashboard page and variant (the
Synthèse; the Tableau de bord bare, filtered, searched by number, each sort both ways, its next page by the « Suivant »
link), and for every SELECT the page runs, runs it again under `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` on the same
connection, in the same transaction (same tenant settings), with the same parameters (a SQLAlchemy
`before_cursor_execute` listener on the engine).

Prints one line per statement: milliseconds of execution and of planning (an EXPLAIN is planned for its own
parameters, as the connections plan every execution: `extensions.tune_postgresql`; on the Synthèse planning costs
more than running), the rows the plan's scans read (rows returned by each scan node × loops, plus the rows its
filters removed), shared buffers (hit + read), the plan's top nodes and the statement's first words; then per page:
statements, total rows read, total ms. Nothing is asserted: the figures go in the issue note.

`--generic` also runs each SELECT as a prepared statement under PostgreSQL's generic plan (`PREPARE`, then `EXPLAIN
ANALYZE EXECUTE` with `plan_cache_mode = force_generic_plan`, in the same transaction) and prints its rows read, ms
and top nodes on a second line: the check behind a page marked `plan_cache.generic_plans` (its generic plans must
read what its custom plans read, for each account, at each size). Each statement says which plan it runs with in
the application (« runs »): `custom` under the connection's `force_custom_plan` (an unmarked page, or before the
tenant is read), `marked` for a statement marked `plan_cache.custom_plan` (unprepared: always a custom plan), and
`generic` for the others of a marked page (`auto`: PostgreSQL keeps the generic plan once prepared, unless it costs
more — the worst case is assumed). The page's line then sums the rows read under the plans the statements run with
against the rows of their custom plans, and a statement running generic that reads more rows says « MORE ROWS ».

    .venv/bin/python bench/explain_dashboards.py                       # chorus_bench (100 000 pieces)
    .venv/bin/python bench/explain_dashboards.py --database chorus_bench_1m --accounts moe titulaire
    .venv/bin/python bench/explain_dashboards.py --database chorus_bench_1m --only synthese --generic
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import traceback
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dashboards_seed as seeding  # noqa: E402

SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan"}
SORTS = ("date", "numero", "montant", "statut", "marche")


def variants() -> list[tuple[str, str]]:
    """(name, path) of each page measured; {siret} is the logged-in structure's."""
    recent = (date.today() - timedelta(days=30)).isoformat()
    pages = [("synthese", "/s/{siret}/synthese"),
             ("tableau_de_bord", "/s/{siret}/tableau-de-bord"),
             ("board:status", "/s/{siret}/tableau-de-bord?status=A_VALIDER_1"),
             # The benchmark's `tdb_statut`: the structure's commonest status (`dashboards.account_values`).
             ("board:status-common", "/s/{siret}/tableau-de-bord?status={status}"),
             ("board:period", f"/s/{{siret}}/tableau-de-bord?du={recent}"),
             ("board:number", "/s/{siret}/tableau-de-bord?number=0042"),
             ("board:number-start", "/s/{siret}/tableau-de-bord?number=F"),
             # A whole number as printed on the invoice, and the company that emitted most of the structure's
             # pieces (`dashboards.account_values`: read as the superuser from what the structure sees).
             ("board:number-full", "/s/{siret}/tableau-de-bord?number={number}"),
             ("board:emitter", "/s/{siret}/tableau-de-bord?party_id={party_id}"),
             # The same on another sort than the date (no index of its own: read the plan).
             ("board:number-start-montant", "/s/{siret}/tableau-de-bord?number=F&tri=-montant"),
             ("board:number-full-montant", "/s/{siret}/tableau-de-bord?number={number}&tri=-montant"),
             ("board:emitter-montant", "/s/{siret}/tableau-de-bord?party_id={party_id}&tri=-montant"),
             # A status on another sort than the date (`dashboard.page_read`: the status's rows sorted, up to CAP),
             # and the cadre, which no index holds (the sort's index walked).
             ("board:status-montant", "/s/{siret}/tableau-de-bord?status=A_VALIDER_1&tri=-montant"),
             ("board:status-montant-asc", "/s/{siret}/tableau-de-bord?status=A_VALIDER_1&tri=montant"),
             ("board:status-numero", "/s/{siret}/tableau-de-bord?status=A_VALIDER_1&tri=-numero"),
             ("board:status-numero-asc", "/s/{siret}/tableau-de-bord?status=A_VALIDER_1&tri=numero"),
             ("board:status-marche", "/s/{siret}/tableau-de-bord?status=A_VALIDER_1&tri=marche"),
             ("board:status-common-montant", "/s/{siret}/tableau-de-bord?status={status}&tri=-montant"),
             ("board:cadre", "/s/{siret}/tableau-de-bord?cadre=A10"),
             # The benchmark's own filtered pages (`dashboards.PAGES`: its busiest marché, a month of the history
             # three months ago), which the variants above did not reproduce.
             ("board:marche", "/s/{siret}/tableau-de-bord?marche_id={marche_id}"),
             ("board:month", "/s/{siret}/tableau-de-bord?du={du}&au={au}"),
             ("entreprises", "/s/{siret}/tableau-de-bord/entreprises")]
    for key in SORTS:
        pages += [(f"board:tri={key}", f"/s/{{siret}}/tableau-de-bord?tri={key}"),
                  (f"board:tri=-{key}", f"/s/{{siret}}/tableau-de-bord?tri=-{key}")]
    return pages


def rows_read(plan: dict) -> int:
    """The rows the plan's scan nodes read: returned × loops, plus those their filters removed."""
    total = 0
    if plan.get("Node Type") in SCANS:
        loops = plan.get("Actual Loops", 1) or 1
        total += (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
                  + plan.get("Rows Removed by Index Recheck", 0)) * loops
    for child in plan.get("Plans", ()):
        total += rows_read(child)
    return total


def shape(plan: dict, depth: int = 0, limit: int = 3) -> str:
    """The plan's first nodes, with their index: « Limit > Nested Loop > Index Scan Backward ix_board_row_date »."""
    name = plan.get("Node Type", "?")
    if plan.get("Scan Direction") == "Backward":
        name += " Backward"
    if plan.get("Index Name"):
        name += f" {plan['Index Name']}"
    elif plan.get("Relation Name") and name.startswith("Seq Scan"):
        name += f" {plan['Relation Name']}"
    children = plan.get("Plans", ())
    if depth + 1 >= limit or not children:
        return name
    return name + " > " + " | ".join(shape(child, depth + 1, limit) for child in children[:2])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="chorus_bench")
    parser.add_argument("--accounts", nargs="*", default=list(seeding.BENCH_LOGINS),
                        help="the benchmark's busy accounts (titulaire moe moa sous_traitant) or any seeded e-mail "
                             "(gestion170@bench.chorus-chain.fr: a small structure)")
    parser.add_argument("--only", nargs="*", default=None, help="page names to run (default: all)")
    parser.add_argument("--generic", action="store_true",
                        help="each SELECT also under its generic plan (a prepared statement, force_generic_plan)")
    parser.add_argument("--plans", nargs="*", default=(),
                        help="print the whole plan (EXPLAIN ANALYZE, BUFFERS, as text) of the statements whose caller "
                             "contains one of these words (« board_page », « _groups »)")
    args = parser.parse_args(argv)

    os.environ.update({"DATABASE_URL": f"postgresql://chorus_app@127.0.0.1:5432/{args.database}",
                       "CHORUS_ENV": "production", "SECRET_KEY": "bench-explain-not-for-production",
                       "SESSION_COOKIE_SECURE": "0", "LOGIN_RATE_LIMIT": "100000 per minute",
                       "BASE_URL": "http://127.0.0.1", "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "")})
    from sqlalchemy import event

    from chorus_chain import create_app, plan_cache
    from chorus_chain.extensions import db

    app = create_app()
    with app.app_context():
        engine = db.engine
    seen: list[dict] = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if executemany or not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            return
        if "set_config(" in statement:
            return
        raw = conn.connection.dbapi_connection.cursor()
        try:
            mode = raw.execute("SELECT current_setting('plan_cache_mode')").fetchone()[0]
            raw.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, parameters)
            plan = raw.fetchone()[0][0]
        finally:
            raw.close()
        top = plan["Plan"]
        runs = ("marked" if context.execution_options.get(plan_cache.CUSTOM, False)
                else "custom" if mode == "force_custom_plan" else "generic")
        where = caller()
        text = None
        if any(word in where for word in args.plans):
            raw = conn.connection.dbapi_connection.cursor()
            try:
                raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                text = "\n".join(row[0] for row in raw.fetchall())
            finally:
                raw.close()
        seen.append({"text": text, "ms": plan.get("Execution Time", 0.0), "plan_ms": plan.get("Planning Time", 0.0),
                     "rows": rows_read(top), "runs": runs,
                     "buffers": top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0),
                     "shape": shape(top), "caller": where, "sql": " ".join(statement.split())[:110],
                     "generic": generic_plan(conn.connection.dbapi_connection, statement, parameters)
                     if args.generic else None})

    event.listen(engine, "before_cursor_execute", explain)
    pages = [(name, path) for name, path in variants() if args.only is None or name in args.only]
    for account in args.accounts:
        email = seeding.BENCH_LOGINS.get(account, account)
        client = app.test_client()
        login = client.get("/connexion")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.get_data(as_text=True))
        answer = client.post("/connexion", data={"email": email, "password": seeding.BENCH_PASSWORD,
                                                 **({"csrf_token": token.group(1)} if token else {})})
        if answer.status_code not in (302, 303):
            print(f"login of {email} failed: HTTP {answer.status_code}")
            continue
        home = client.get("/", follow_redirects=True).get_data(as_text=True)
        siret = re.search(r"/s/(\d{14})/", home)
        if not siret:
            print(f"{account}: no structure found on the home page")
            continue
        values = {"siret": siret.group(1)}
        if any(name in path for name in ("{party_id}", "{number}", "{status}", "{marche_id}", "{du}") for _, path in pages):
            from dashboards import account_values

            values.update(account_values(args.database, siret.group(1), datetime.now(timezone.utc)))
        for name, path in pages:
            url = path.format(**values)
            for label, target in [(name, url)]:
                seen.clear()
                response = client.get(target)
                body = response.get_data(as_text=True)
                report(account, label, response.status_code, seen)
                # The next page of the list, by its « Suivant » link (a keyset cursor), for the sorts and for a
                # status on each sort (the cursor is a condition of the index (structure, status, sort column)).
                following = re.search(r'href="([^"]+apres=[^"]+)"', body)
                if name.startswith(("board:tri", "board:status")) and following:
                    seen.clear()
                    response = client.get(following.group(1).replace("&amp;", "&"))
                    report(account, label + " (page 2)", response.status_code, seen)
    return 0


def generic_plan(connection, statement: str, parameters) -> dict:
    """The statement's generic plan, run: PREPAREd with its named parameters as $1, $2… (the casts SQLAlchemy writes
    type them), EXPLAIN ANALYZE EXECUTEd with their values under `force_generic_plan`, then deallocated; the
    connection's plan_cache_mode is restored (SET LOCAL: the transaction's own)."""
    from psycopg import sql

    names: list[str] = []

    def positional(match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", positional, statement)
    values = ", ".join(sql.Literal(parameters[name]).as_string(connection) for name in names)
    cursor = connection.cursor()
    try:
        previous = cursor.execute("SELECT current_setting('plan_cache_mode')").fetchone()[0]
        cursor.execute("PREPARE explain_generic AS " + text)
        try:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE explain_generic{f'({values})' if names else ''}")
            plan = cursor.fetchone()[0][0]
        finally:
            cursor.execute("DEALLOCATE explain_generic")
            cursor.execute(f"SET LOCAL plan_cache_mode = {previous}")
    finally:
        cursor.close()
    top = plan["Plan"]
    return {"ms": plan.get("Execution Time", 0.0), "rows": rows_read(top), "shape": shape(top),
            "buffers": top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)}


def caller() -> str:
    """The application's function that ran the statement: the innermost frame of `chorus_chain` outside the
    session's plumbing (« dashboard.open_clocks »)."""
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace(os.sep, "/")
        if "/chorus_chain/" in path and not path.endswith(("/extensions.py", "/access.py", "/timing.py")):
            module = path.split("/chorus_chain/", 1)[1].removesuffix(".py").replace("/", ".")
            return f"{module}.{frame.name}"
    return "?"


def real_rows(s: dict) -> int:
    """The rows a statement reads under the plan it runs with (its generic plan's when it runs generic and that was
    measured, else its custom plan's)."""
    return s["generic"]["rows"] if s["runs"] == "generic" and s.get("generic") else s["rows"]


def report(account: str, page: str, status: int, seen: list[dict]) -> None:
    real = (f", under the plans they run with {sum(real_rows(s) for s in seen)}"
            if any(s.get("generic") for s in seen) else "")
    runs = {kind: sum(s["runs"] == kind for s in seen) for kind in ("generic", "marked", "custom")}
    print(f"\n== {account} {page}: HTTP {status}, {len(seen)} SELECTs ({runs['generic']} generic, {runs['marked']} "
          f"marked custom, {runs['custom']} custom), rows read {sum(s['rows'] for s in seen)}{real}, "
          f"{sum(s['ms'] for s in seen):.1f} ms (+ {sum(s['plan_ms'] for s in seen):.1f} ms planning)")
    for s in seen:
        print(f"  {s['ms']:8.2f} ms {s['plan_ms']:6.2f} plan {s['rows']:9d} rows {s['buffers']:7d} buf  {s['runs']:7s} "
              f"{s['caller'][:44]:44s} {s['shape'][:80]:80s}  {s['sql']}")
        if s.get("generic"):
            generic = s["generic"]
            same = "same rows" if generic["rows"] == s["rows"] else "ROWS DIFFER"
            worse = " MORE ROWS" if s["runs"] == "generic" and generic["rows"] > s["rows"] else ""
            print(f"  {generic['ms']:8.2f} ms generic {generic['rows']:9d} rows {generic['buffers']:7d} buf  ({same}{worse}) "
                  f"{'':32s}{generic['shape'][:80]}")
        if s.get("text"):
            print("\n".join("        " + line for line in s["text"].splitlines()))


if __name__ == "__main__":
    sys.exit(main())
