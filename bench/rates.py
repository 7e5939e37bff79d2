"""What the throughput benchmarks share: a run timed and printed as a rate (bench/actions.py, bench/api_deposits.py)."""
from __future__ import annotations

import time


def timed(label: str, count: int, call, width: int = 28) -> float:
    """Run `call()`, print `count` operations' rate beside `label`, return the rate per second."""
    started = time.perf_counter()
    call()
    elapsed = time.perf_counter() - started
    rate = count / elapsed
    print(f"{label:<{width}} {count:>6} in {elapsed:7.2f} s  {rate:9.1f} /s")
    return rate
