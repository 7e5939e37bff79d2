"""The pages whose statements PostgreSQL may plan once per connection (a generic plan) instead of on every execution.

Every connection plans each execution of a kept prepared statement for its own parameters (`plan_cache_mode =
force_custom_plan`, `extensions.tune_postgresql`): the structures are skewed (a maître d'œuvre sees a quarter of a
region's pieces, a sous-traitant a few hundred) and one generic plan per statement took the Tableau de bord's
statements to plans that read whole structures. But planning is not free: on the Synthèse it cost more than running
(`bench/explain_dashboards.py` at 100 000 pieces: 2.4 ms of planning against 0.9–1.5 ms of execution per page, most
of it the work list's statement, which names `board_row` three times and that table has eighteen indexes).

A page qualifies when every statement it runs after the tenant's reads the same index ranges whatever the structure,
each bounded by what the page shows (its limits hidden from the planner, `board_reading.planning.opaque_limit`): then
the generic plan is the custom plan, and checking it is part of marking the view (its generic plans read the same rows
as its custom ones for the benchmark's four accounts: the bench README says where). Such a view is marked
`@generic_plans`; the statement that reads the tenant (`tenancy.load_structure_for_current_user`) then also sets
`plan_cache_mode = auto` for the rest of the request's transaction (`set_config(…, true)`, the connection's own
setting again at its end): PostgreSQL's default, which plans the first five executions of a prepared statement for
their parameters and then keeps the generic plan unless it costs more. No statement of its own; the statements that
run before the tenant's (the session's) keep their custom plans.

A marked view may still run a statement whose generic plan is ruinous for some structures: its author marks that
statement `custom_plan(statement)` and it then runs unprepared, whatever the page. PostgreSQL gives generic plans to
named prepared statements only; psycopg prepares a statement (names it) once it has run `prepare_threshold` (5) times
on the connection, unless it is executed with `prepare=False`, and then it goes through the unnamed statement, parsed
and planned again at each execution for its own parameters (a new plan source, never five custom plans old: under
`auto` always a custom plan). `install` makes the engine execute the marked statements so (SQLAlchemy's `do_execute`
event). The Tableau de bord is such a view (page, filters, HTMX list), with three statements marked: one that reads
orders of magnitude more rows under its generic plan at 1 000 000 pieces (the bench README, session 10) — the
Trésorerie's habits (`tresorerie.reading._history_read`) —, and a number search's or a period's overview and page
(`counts.capped_groups`, `lists.board_page`, marked through `lists.KeptConditions.custom_plan`): a generic plan cannot
see the range of a number. The check is
`bench/explain_dashboards.py --generic`, which says under which plan each statement runs (the bench README, session
11). « Montants par entreprise » (`parties.money_lines`) was marked too until each company's sums became a LATERAL
probe of its rollup rows, whose generic plan is its custom plan, the companies offered by the filter
(`parties.offer_and_own`) until its generic plan read fewer rows than its custom one (session 14), and the payment
tracker's events (`tracker.reading._events_statement`) until they became one array of pieces, each probing its
events (session 15).

Allowed is not kept: PostgreSQL keeps a generic plan only when it costs no more than the custom plans it made, and
a parameter the planner reads a value from (the size of an array, a day against a column's histogram) can make every
custom plan look cheaper, so that a prepared statement is planned again at every execution. Such a parameter is read
through a subquery (an InitPlan), which both plans estimate alike (`tracker.reading._events_statement`,
`private_invoices.overdue._overdue`); `pg_prepared_statements` says which statements got generic plans
(tests/integration/test_plan_cache.py).

The connections' default stays `force_custom_plan` and views are marked one by one: flipping the default to `auto`
would need every page's statements checked so.
"""
from __future__ import annotations

from flask import current_app, has_request_context, request
from sqlalchemy import case, func

MARK = "generic_plans"
CUSTOM = "chorus_custom_plan"  # execution option: this statement runs unprepared, planned for its parameters


def generic_plans(view):
    """Mark a view as one whose statements may keep generic plans (under the route and the rights decorators, which
    carry the mark up with `functools.wraps`)."""
    setattr(view, MARK, True)
    return view


def wanted() -> bool:
    """Whether the view of the current request is marked."""
    if not has_request_context() or request.endpoint is None:
        return False
    return bool(getattr(current_app.view_functions.get(request.endpoint), MARK, False))


def setting_column(when=None):
    """The column that sets the transaction's plan_cache_mode to PostgreSQL's default (`auto`), for the statement that
    reads the tenant (`when`: only on a row where that condition holds, as `access.settings_columns`)."""
    column = func.set_config("plan_cache_mode", "auto", True)
    if when is not None:
        column = case((when, column))
    return column.label("chorus_plan_cache_mode")


def custom_plan(statement):
    """`statement` marked to run unprepared: planned for its own parameters at each execution, even in a view marked
    `generic_plans` (its generic plan reads more than its custom plan for some structures)."""
    return statement.execution_options(**{CUSTOM: True})


def install(engine) -> None:
    """Execute the statements marked `custom_plan` unprepared on `engine` (psycopg: `prepare=False`)."""
    from sqlalchemy import event

    event.listen(engine, "do_execute", _execute_marked)


def _execute_marked(cursor, statement, parameters, context) -> bool:
    if not context.execution_options.get(CUSTOM, False):
        return False  # SQLAlchemy executes it as usual (prepared once it has run often enough)
    cursor.execute(statement, parameters, prepare=False)
    return True
