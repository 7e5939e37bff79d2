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
"""
from __future__ import annotations

from flask import current_app, has_request_context, request
from sqlalchemy import func

MARK = "generic_plans"


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


def setting_column():
    """The column that sets the transaction's plan_cache_mode to PostgreSQL's default (`auto`), for the statement that
    reads the tenant."""
    return func.set_config("plan_cache_mode", "auto", True).label("chorus_plan_cache_mode")
