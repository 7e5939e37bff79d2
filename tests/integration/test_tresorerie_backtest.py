"""The back-test of issue 19 through the database: a seeded history of three works marchés (buyers, maîtres d'œuvre
and contractors of different habits) replayed with the real operations, the clock moved; at each month's start the
forecast each company's page would show (`reading.forecast_for`, through the access predicate) beats « legal
deadline from today » on the payments that then happened. The eighteen-month run is `bench/tresorerie_backtest.py`.
"""
from __future__ import annotations

from chorus_chain.operations.tresorerie.backtest import score
from tests.integration.tresorerie_replay import EMITTERS, month_start, replay, schedule


def test_the_history_is_drawn_from_the_actors_habits():
    steps, drawn = schedule(19, months=6, marches=3)
    assert len(drawn) == 6 * 3 * len(EMITTERS)
    assert [s.when for s in steps] == sorted(s.when for s in steps)
    # Each marché's paying office keeps its own habit: the slow one pays weeks after the prompt one.
    paid_after = {}
    for s in steps:
        if s.action == "moa_validate":
            paid_after.setdefault(s.marche, []).append((drawn[s.key].paid_on - s.when.date()).days)
    medians = sorted(sorted(d)[len(d) // 2] for d in paid_after.values())
    assert medians[-1] - medians[0] > 20


def test_the_forecast_of_the_page_beats_the_legal_deadline_on_a_replayed_history(app, db):
    """Two marchés (a prompt paying office, a slow one) over nine months. A company learns only from the pieces it
    sees — its own, one a month per marché, paid one to two months later — so its first months' forecasts rest on
    the legal délais; from the fifth month on it has seen a few paid: there the forecast must win on every figure
    (bench/tresorerie_backtest.py prints the eighteen months, month by month)."""
    done = replay(app, seed=19, months=9, marches=2)
    assert done.pieces == 9 * 2 * len(EMITTERS) and done.structures_asked == 8 * 2 * len(EMITTERS)
    # Every amount forecast was then paid on a known day, after the forecast was made.
    assert len(done.forecasts) > 60 and all(f.actual >= f.on for f in done.forecasts)
    overall = score(done.forecasts, "forecast"), score(done.forecasts, "naive")
    assert overall[0].median_days < overall[1].median_days
    learnt = [f for f in done.forecasts if f.on >= month_start(5)]
    forecast, naive = score(learnt, "forecast"), score(learnt, "naive")
    assert forecast.median_days < naive.median_days
    assert forecast.p90_days < naive.p90_days
    assert forecast.right_week_share > naive.right_week_share
