"""What Python's cyclic garbage collector costs a gunicorn worker serving the dashboards: collections per generation,
their CPU per request and the longest one (a collection holds every thread of the worker).

One gunicorn worker (gthread, `--threads`) serves `app:app` of the tree this script is run from, on a bench database
read as it is; the four busy accounts of the benchmark request the Tableau de bord, sorted by amount, the Synthèse
and /healthz in turn for `--seconds`. The worker records each collection's CPU (`gc.callbacks`, the thread that
collects) and writes its figures when it stops. This file is also the gunicorn configuration that installs the
recording (`gunicorn -c bench/gc_pauses.py`: run as a config, it defines gunicorn's hooks).

    .venv/bin/python bench/gc_pauses.py --database chorus_bench_100k --seconds 75
    /work/main/.venv/bin/python /work/main/bench/gc_pauses.py ...    # another tree's app.py, same minute
"""
from __future__ import annotations

import gc
import json
import os
import time

OUT = "GC_PAUSES_OUT"  # where the worker writes its figures (set by main for the server it starts)

# --- gunicorn's hooks (this file run as its configuration) ---------------------------------------------------------
_figures = {"requests": 0, "collections": [0, 0, 0], "cpu_ms": [0.0, 0.0, 0.0], "longest_ms": [0.0, 0.0, 0.0]}
_started = [0.0]


def _collected(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.thread_time()
        return
    spent, generation = (time.thread_time() - _started[0]) * 1000, info["generation"]
    _figures["collections"][generation] += 1
    _figures["cpu_ms"][generation] += spent
    _figures["longest_ms"][generation] = max(_figures["longest_ms"][generation], spent)


def post_worker_init(worker) -> None:  # the app is loaded (app.py ran): count from the first request on
    gc.callbacks.append(_collected)


def post_request(worker, req, environ, resp) -> None:
    _figures["requests"] += 1


def worker_exit(server, worker) -> None:
    if os.environ.get(OUT):
        with open(f"{os.environ[OUT]}-{os.getpid()}.json", "w") as out:
            json.dump({**_figures, "frozen": gc.get_freeze_count()}, out)


# --- the run -------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict:
    import argparse
    import sys
    import tempfile
    import threading
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "bench"))
    import dashboards as bench
    import dashboards_seed as seeding

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database", default="chorus_bench_100k")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)

    sirets = bench._sirets(args.database)
    out = Path(tempfile.mkdtemp(prefix="gc_pauses-")) / "worker"
    server = bench.Server(args.database, 1, args.threads, None)
    server.command += ["-c", str(Path(__file__).resolve())]
    server.env[OUT] = str(out)
    served = [0]
    with server:
        def client(email: str) -> None:
            session, siret = bench.login(server.base, email), sirets[email]
            paths = [f"/s/{siret}/tableau-de-bord", f"/s/{siret}/tableau-de-bord?tri=montant", f"/s/{siret}/synthese",
                     "/healthz"]
            end, turn = time.monotonic() + args.seconds, 0
            while time.monotonic() < end:
                session.get(server.base + paths[turn % len(paths)], timeout=120)
                served[0] += 1
                turn += 1

        clients = [threading.Thread(target=client, args=(email,)) for email in seeding.BENCH_LOGINS.values()
                   if email in sirets]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
    figures = [json.loads(path.read_text()) for path in out.parent.glob("worker-*.json")]
    if not figures:
        raise SystemExit(f"the worker wrote no figures (see {server.log_path})")
    result = figures[0]
    requests = max(result["requests"], 1)
    print(f"{result['requests']} requests in {args.seconds:.0f} s ({served[0]} sent), objects frozen: "
          f"{result['frozen']}")
    for generation in range(3):
        print(f"gen{generation}: {result['collections'][generation]:5} collections, "
              f"{result['cpu_ms'][generation]:8.1f} ms CPU ({result['cpu_ms'][generation] / requests:.3f} ms a request), "
              f"longest {result['longest_ms'][generation]:.1f} ms")
    print(f"all: {sum(result['cpu_ms']) / requests:.3f} ms of CPU a request")
    return result


if __name__ == "__main__":
    main()
