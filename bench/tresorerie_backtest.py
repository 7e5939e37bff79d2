"""Back-test of the Trésorerie forecast (issue 19): replays a seeded history (six marchés over eighteen months,
maîtres d'œuvre, maîtres d'ouvrage, paying offices and contractors of different habits), forecasts every amount in
flight at each month's start, and compares with the day it was then paid — against the naive forecast « legal
deadline from today ». See `chorus_chain/operations/tresorerie/backtest.py`.

    .venv/bin/python bench/tresorerie_backtest.py [--seed 19] [--seeds 5]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chorus_chain.operations.tresorerie import backtest  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--seeds", type=int, default=1, help="how many consecutive seeds from --seed")
    args = parser.parse_args()
    print(f"{'seed':>5} {'forecasts':>9} | {'median |err| (d)':>16} {'p90 |err| (d)':>13} {'€ in right week':>15} "
          f"| {'naive median':>12} {'naive p90':>9} {'naive € week':>12}")
    for seed in range(args.seed, args.seed + args.seeds):
        made, forecast, naive = backtest.run(seed)
        print(f"{seed:>5} {made:>9} | {forecast.median_days:>16} {forecast.p90_days:>13} "
              f"{float(forecast.right_week_share):>14.1%} | {naive.median_days:>12} {naive.p90_days:>9} "
              f"{float(naive.right_week_share):>11.1%}")


if __name__ == "__main__":
    main()
