"""The back-test of issue 19: on a seeded history of six marchés over eighteen months, the forecast made at each
month's start (habits learnt from what had happened by then) beats « legal deadline from today »."""
from __future__ import annotations

from chorus_chain.operations.tresorerie import backtest


def test_the_history_is_what_it_claims():
    pieces = backtest.history(19)
    assert len({p.marche.id for p in pieces}) == 6
    first = min(p.events[0].on for p in pieces)
    last = max(p.events[0].on for p in pieces)
    assert (last.year - first.year) * 12 + last.month - first.month == backtest.MONTHS - 1
    # Buyers of different habits: the slow paying office pays weeks after the prompt one.
    delays = {}
    for p in pieces:
        validated = next(e.on for e in p.events if e.action == "moa_validate")
        delays.setdefault(p.marche.payer.id, []).append((p.paid_on - validated).days)
    medians = sorted(sorted(d)[len(d) // 2] for d in delays.values())
    assert medians[-1] - medians[0] > 20
    assert all(e.on <= p.paid_on for p in pieces for e in p.events)


def test_the_forecast_beats_the_naive_one():
    for seed in (19, 7):
        made, forecast, naive = backtest.run(seed)
        assert made > 500
        assert forecast.median_days < naive.median_days
        assert forecast.p90_days < naive.p90_days
        assert forecast.right_week_share > naive.right_week_share

