"""Several runs of bench/dashboards.py, one verdict: per page × account pair, the median of the runs' ratios to the
trivial page, and the pairs meeting issue 20's goal on the median.

One run is not a verdict (session 14: three runs of the same tree on the same database met the goal for 59, 12 and
21 of 68 pairs at 1 M). A page's ratio in one run depends on that run's draws — how the clients split between
gunicorn's workers, what the neighbours were doing in those minutes; the median of an odd number of runs is the
figure of a typical run, unmoved by one lucky or unlucky run (a mean would be pulled by it). For each pair the
medians of the throughput ratio and of the p95 ratio are taken separately, and the goal is judged on them
(≥ 0.25 of /healthz's req/s and p95 ≤ 3 × /healthz's). The same is done for the ratios against the whole run's
/healthz (`whole_run`, when the runs carry it), so the two floors can be compared.

    .venv/bin/python bench/dashboards_median.py bench/results/run1.json bench/results/run2.json bench/results/run3.json
    .venv/bin/python bench/dashboards_median.py --runs 3 --json bench/results/median.json -- \\
        --keep --as-is --database chorus_bench_1m --seconds 8 --rounds 2

With `--runs N`, bench/dashboards.py runs N times one after the other (a process each: a new gunicorn, new
connections, new draws), each writing its own JSON beside the verdict's (`<name>-run<k>.json`); the arguments after
`--` are its own. The verdict's JSON keeps the runs' keys: `ratios[page].throughput/p95/meets` and
`ratios[page].accounts[account].throughput/p95/meets` (the medians), with `runs` (each run's figure) beside them.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from dashboards import GOAL, RESULTS, TRIVIAL  # noqa: E402


ABSOLUTE = ("rps", "p50_ms", "p95_ms", "p99_ms", "cpu_ms", "db_ms", "sql")


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def median_ratio(ratios: list[dict], goal: dict) -> dict:
    """One pair's ratios over the runs → their medians (throughput, p95, p50), whether the goal holds on them, and
    each run's figures."""
    out = {key: _median([r.get(key) for r in ratios]) for key in ("throughput", "p95", "p50")}
    out["meets"] = (out["throughput"] is not None and out["p95"] is not None
                    and out["throughput"] >= goal["throughput"] and out["p95"] <= goal["p95"])
    out["runs"] = {key: [r.get(key) for r in ratios] for key in ("throughput", "p95")}
    out["met_in_runs"] = sum(1 for r in ratios if r.get("meets"))
    return out


def _pairs(ratios: list[dict], goal: dict) -> dict:
    """A page's ratios over the runs (all clients, and each account every run measured) → the medians."""
    accounts = set.intersection(*(set(r.get("accounts", {})) for r in ratios))
    return {**median_ratio(ratios, goal),
            "accounts": {a: median_ratio([r["accounts"][a] for r in ratios], goal) for a in sorted(accounts)}}


def verdict(results: list[dict], goal: dict | None = None) -> dict:
    """The median verdict of several runs' results (bench/dashboards.py's JSON): per page and account the median
    ratios against the floor beside each page (the runs' `ratios`) and, when every run has it, against the whole
    run's /healthz (`whole_run`); the pairs meeting the goal on the medians; and each run's own count."""
    if not results:
        raise ValueError("no run to judge")
    goal = goal or results[0].get("goal") or GOAL
    pages = [name for name in results[0]["ratios"] if all(name in r["ratios"] for r in results)]
    ratios = {}
    for name in pages:
        runs = [r["ratios"][name] for r in results]
        ratios[name] = _pairs(runs, goal)
        if all("whole_run" in run for run in runs):
            ratios[name]["whole_run"] = _pairs([run["whole_run"] for run in runs], goal)

    def met(of) -> int:
        return sum(1 for ratio in ratios.values() for pair in of(ratio).get("accounts", {}).values() if pair["meets"])

    pairs = sum(len(ratio["accounts"]) for ratio in ratios.values())
    keep = sum(1 for ratio in ratios.values() for pair in ratio["accounts"].values()
               if pair["throughput"] is not None and pair["throughput"] >= goal["throughput"])
    floors = [r["pages"][TRIVIAL[0]] for r in results]
    measured = [name for name in results[0]["pages"] if all(name in r["pages"] for r in results)]
    return {
        "runs": len(results), "goal": goal, "when": [r.get("when") for r in results],
        "floor": [{"rps": f["rps"], "p95_ms": f["p95_ms"]} for f in floors],
        # The absolute figures too (what a user waits), the median of each over the runs.
        "pages": {name: {key: _median([r["pages"][name].get(key) for r in results]) for key in ABSOLUTE}
                  for name in measured},
        "ratios": ratios, "pairs": pairs, "met": met(lambda ratio: ratio), "keep_throughput": keep,
        "met_whole_run": (met(lambda ratio: ratio.get("whole_run", {}))
                          if all("whole_run" in ratio for ratio in ratios.values()) else None),
        "met_per_run": [sum(1 for name in pages for pair in r["ratios"][name]["accounts"].values() if pair["meets"])
                        for r in results],
    }


def _fmt(value: float | None, spec: str) -> str:
    return format(value, spec) if value is not None else "—"


def report(judged: dict) -> str:
    goal = judged["goal"]
    lines = [f"{judged['runs']} run(s); /healthz over each whole run: " + ", ".join(
        f"{f['rps']:.1f} req/s p95 {_fmt(f['p95_ms'], '.1f')} ms" for f in judged["floor"]),
        f"{'page / account':22} {'÷ trivial':>9} {'× p95':>6} {'goal':>4}  {'runs: ÷ trivial':<24} "
        f"{'runs: × p95':<20} {'÷ run':>6} {'× run':>6} {'goal':>4}"]
    for name, ratio in judged["ratios"].items():
        rows = [(name, ratio, ratio.get("whole_run", {}))] + [
            (f"  {account}", pair, ratio.get("whole_run", {}).get("accounts", {}).get(account, {}))
            for account, pair in ratio["accounts"].items()]
        for label, pair, whole in rows:
            lines.append(
                f"{label:22} {_fmt(pair['throughput'], '9.3f')} {_fmt(pair['p95'], '6.2f')} "
                f"{'yes' if pair['meets'] else 'NO':>4}  "
                f"{' '.join(_fmt(v, '.3f') for v in pair['runs']['throughput']):<24} "
                f"{' '.join(_fmt(v, '.2f') for v in pair['runs']['p95']):<20} "
                f"{_fmt(whole.get('throughput'), '6.3f')} {_fmt(whole.get('p95'), '6.2f')} "
                f"{'' if not whole else 'yes' if whole['meets'] else 'NO':>4}")
    lines.append(f"Absolute figures, all clients (medians of the runs): " + "; ".join(
        f"{name} {page['rps']:.1f} req/s p50 {_fmt(page['p50_ms'], '.1f')} p95 {_fmt(page['p95_ms'], '.1f')} "
        f"p99 {_fmt(page['p99_ms'], '.1f')} ms" for name, page in judged["pages"].items()))
    lines.append(f"On the median of {judged['runs']} run(s), per page and account: {judged['keep_throughput']} of "
                 f"{judged['pairs']} pairs keep ≥ {goal['throughput']} of /healthz's req/s, {judged['met']} of "
                 f"{judged['pairs']} meet the whole goal (p95 ≤ {goal['p95']:g} × too), against the floor measured "
                 f"beside each page" + (f"; {judged['met_whole_run']} of {judged['pairs']} against each run's whole "
                                        f"/healthz" if judged["met_whole_run"] is not None else "")
                 + f". Each run alone: {', '.join(str(n) for n in judged['met_per_run'])}.")
    return "\n".join(lines)


def run_dashboards(runs: int, path: Path, arguments: list[str]) -> list[Path]:
    """bench/dashboards.py `runs` times, one process each, each writing `<path's name>-run<k>.json`."""
    written = []
    for k in range(1, runs + 1):
        output = path.with_name(f"{path.stem}-run{k}.json")
        subprocess.run([sys.executable, str(ROOT / "bench" / "dashboards.py"), *arguments, "--json", str(output)],
                       cwd=ROOT, check=True)
        written.append(output)
    return written


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("files", nargs="*", type=Path, help="the runs' JSON files (bench/dashboards.py --json)")
    parser.add_argument("--runs", type=int, default=0,
                        help="run bench/dashboards.py this many times first (its arguments after --)")
    parser.add_argument("--json", type=Path, default=None,
                        help="write the verdict to this file (default: bench/results/dashboards-median-<time>.json)")
    argv = sys.argv[1:] if argv is None else argv
    own, arguments = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args = parser.parse_args(own)
    path = args.json or RESULTS / f"dashboards-median-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    files = list(args.files) + (run_dashboards(args.runs, path, arguments) if args.runs else [])
    if not files:
        raise SystemExit("no run: give the runs' JSON files, or --runs N -- <bench/dashboards.py arguments>")
    judged = verdict([json.loads(f.read_text(encoding="utf-8")) for f in files])
    judged["files"] = [str(f) for f in files]
    print(report(judged))
    path.write_text(json.dumps(judged, indent=2, default=str), encoding="utf-8")
    print(f"verdict written to {path}")
    return judged


if __name__ == "__main__":
    main()
