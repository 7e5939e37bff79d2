"""Back-test of the Trésorerie forecast (issue 19), through the database: a seeded history of works marchés over
eighteen months (buyers, maîtres d'œuvre and contractors of different habits) is replayed with the real operations,
the clock moved (`tests/integration/tresorerie_replay.py`); at each month's start every company owed money asks its
page's forecast (`reading.forecast_for`, through the access predicate), which is compared with the day each amount was
then paid — against the naive forecast « legal deadline from today ». Prints the median and p90 absolute error in
days and the share of euros forecast in the week they were paid, for both, overall and month by month.

Needs PostgreSQL (the test fixtures' server); creates its own database `chorus_bench_tresorerie_*`, dropped after.

    .venv/bin/python bench/tresorerie_backtest.py [--seed 19] [--months 18] [--marches 3]
    .venv/bin/python bench/tresorerie_backtest.py --pure --seeds 5   # the same rules on a history held in memory
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from chorus_chain.operations.tresorerie import backtest  # noqa: E402

HEADER = (f"{'':>10} {'forecasts':>9} | {'median |err| (d)':>16} {'p90 |err| (d)':>13} {'€ in right week':>15} "
          f"| {'naive median':>12} {'naive p90':>9} {'naive € week':>12}")


def _line(name: str, made: int, forecast: backtest.Score, naive: backtest.Score) -> str:
    return (f"{name:>10} {made:>9} | {forecast.median_days:>16} {forecast.p90_days:>13} "
            f"{float(forecast.right_week_share):>14.1%} | {naive.median_days:>12} {naive.p90_days:>9} "
            f"{float(naive.right_week_share):>11.1%}")


def through_the_database(seed: int, months: int, marches: int) -> None:
    from pdf_jobs import _app  # the bench's own migrated application

    from tests.conftest import create_postgres_database
    from tests.integration.tresorerie_replay import replay

    started = time.perf_counter()
    app = _app(create_postgres_database("chorus_bench_tresorerie"))
    done = replay(app, seed=seed, months=months, marches=marches)
    print(f"seed {seed}: {marches} marchés over {months} months, {done.pieces} pieces, {done.operations} operations, "
          f"{done.structures_asked} forecasts asked, {time.perf_counter() - started:.0f} s")
    print(HEADER)
    by_month = defaultdict(list)
    for found in done.forecasts:
        by_month[found.on].append(found)
    for on, found in sorted(by_month.items()):
        print(_line(f"{on:%Y-%m}", len(found), backtest.score(found, "forecast"), backtest.score(found, "naive")))
    later = [f for f in done.forecasts if f.on >= sorted(by_month)[min(5, len(by_month) - 1)]]
    print(_line("from m. 6", len(later), backtest.score(later, "forecast"), backtest.score(later, "naive")))
    print(_line("all", len(done.forecasts), backtest.score(done.forecasts, "forecast"),
                backtest.score(done.forecasts, "naive")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--marches", type=int, default=3)
    parser.add_argument("--pure", action="store_true", help="the in-memory history of backtest.py instead")
    parser.add_argument("--seeds", type=int, default=1, help="with --pure: how many consecutive seeds from --seed")
    args = parser.parse_args()
    if not args.pure:
        through_the_database(args.seed, args.months, args.marches)
        return
    print(HEADER)
    for seed in range(args.seed, args.seed + args.seeds):
        made, forecast, naive = backtest.run(seed)
        print(_line(f"seed {seed}", made, forecast, naive))


if __name__ == "__main__":
    main()
