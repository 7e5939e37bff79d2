"""Benchmark: the PDF job throughput with one worker, against WeasyPrint alone on the same HTML.

What a user waits for is not one WeasyPrint call but the whole job: load the piece under the tenant's access
predicate, build the document's data, check its content key, render, store the bytes by SHA-256, commit the progress
and the status. This benchmark puts N invoice PDFs of real pieces (a services marché, A9 invoices of a sous-traitant)
through the real job function (`jobs.documents.render_document`) and reports documents per second, next to
WeasyPrint alone rendering the same N HTML documents in the same process. Then, when Redis answers, the same N
documents of N new pieces go through a real `rq worker --burst` — the forking
worker of the Procfile —, rq's `SimpleWorker` (no fork per job) and our `jobs.worker.PreloadedWorker` (forks, but
loads the app and WeasyPrint once in the parent), each timed from the worker's start to its exit with every row done.

It needs PostgreSQL (the test fixtures' server, TEST_PG_ADMIN_URL) and, for the rq part, Redis (TEST_REDIS_URL); it
creates its own database `chorus_bench_<BENCH_NAME>` (dropped and re-created at each run). Nothing asserts on the
figures. Run it from the repository root:

    .venv/bin/python bench/pdf_jobs.py                  # 20 documents
    .venv/bin/python bench/pdf_jobs.py --documents 40 --json bench/results/pdf_jobs.json
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production")
os.environ.setdefault("PYTEST_XDIST_WORKER", os.environ.get("BENCH_NAME", "bench"))

from sqlalchemy import select  # noqa: E402


def _app(database_url: str):
    from flask_migrate import upgrade

    from chorus_chain import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": None, "SERVER_NAME": "localhost",
                      "BASE_URL": "http://localhost", "TESTING": True})
    with app.app_context():
        upgrade()
    return app


def _ask(app, who, piece_ids: list[int]) -> list[int]:
    """Ask for each piece's PDF as `who` (rows queued, outbox rows left undispatched); returns the row ids."""
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations.documents import request_document
    from tests.integration.pieces_world import acting

    ids = []
    for piece_id in piece_ids:
        with acting(app, who) as (account, structure):
            ids.append(request_document(account, structure, "piece_pdf", now=utcnow(), piece_id=piece_id).id)
    return ids


def _statuses(app, ids: list[int]) -> list[str]:
    from chorus_chain.extensions import db
    from chorus_chain.models import GeneratedDocument

    with app.app_context():
        return list(db.session.scalars(select(GeneratedDocument.status).where(GeneratedDocument.id.in_(ids))))


def _in_process(app, ids: list[int]) -> float:
    from chorus_chain.jobs.documents import render_document

    gc.collect()
    start = time.perf_counter()
    with app.app_context():
        for document_id in ids:
            render_document(document_id)
    return time.perf_counter() - start


def _weasyprint_alone(app, w, piece_ids: list[int]) -> tuple[float, int]:
    """WeasyPrint alone on the very HTML the jobs rendered (built first, not timed)."""
    import weasyprint

    from chorus_chain.access import tenant
    from chorus_chain.documents.render import STATIC_BASE_URL
    from chorus_chain.extensions import db
    from chorus_chain.models import Structure
    from chorus_chain.models.base import utcnow
    from chorus_chain.operations.documents import piece_html, prepare_piece

    with app.test_request_context(), tenant(w.st1.structure_id):
        structure = db.session.get(Structure, w.st1.structure_id)
        htmls = [piece_html(prepare_piece(structure, piece_id, "piece_pdf", utcnow().date())) for piece_id in piece_ids]
    gc.collect()
    start = time.perf_counter()
    size = 0
    for html in htmls:
        size += len(weasyprint.HTML(string=html, base_url=STATIC_BASE_URL).write_pdf())
    return time.perf_counter() - start, size // len(htmls)


def _rq_burst(app, database_url: str, redis_url: str, ids: list[int], worker_class: str | None) -> float:
    """Enqueue the rows' jobs on a queue of our own, run one `rq worker --burst` on it; seconds until it exits."""
    from redis import Redis
    from rq import Queue

    queue_name = f"chorus-bench-{os.getpid()}"
    queue = Queue(queue_name, connection=Redis.from_url(redis_url))
    for document_id in ids:
        queue.enqueue("chorus_chain.jobs.documents.render_document", kwargs={"document_id": document_id},
                      job_id=f"bench-{os.getpid()}-{document_id}")
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=redis_url, CHORUS_ENV="production",
               PYTHONPATH=str(ROOT))
    command = [str(ROOT / ".venv" / "bin" / "rq"), "worker", "--burst", "--url", redis_url, "--quiet", queue_name]
    if worker_class:
        command[2:2] = ["--worker-class", worker_class]
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    queue.delete(delete_jobs=True)
    return elapsed


def run(documents: int) -> dict[str, object]:
    import weasyprint

    from tests.conftest import REDIS_PROBLEM, create_postgres_database
    from tests.integration.pieces_world import deposit, world

    database_url = create_postgres_database("chorus_bench")
    app = _app(database_url)
    w = world(app, kind="services")
    def pieces(prefix: str) -> list[int]:
        return [deposit(app, w, w.st1, "A9", f"{prefix}-{n:04d}", ht=f"{1000 + n * 37}.00") for n in range(documents)]

    piece_ids = pieces("B")
    # Warm-up (imports, fonts, Jinja's compiled templates), on a piece of its own.
    _in_process(app, _ask(app, w.st1, [deposit(app, w, w.st1, "A9", "WARM-UP", ht="1000.00")]))

    ids = _ask(app, w.st1, piece_ids)
    job_seconds = _in_process(app, ids)
    assert set(_statuses(app, ids)) == {"done"}, _statuses(app, ids)
    alone_seconds, pdf_bytes = _weasyprint_alone(app, w, piece_ids)
    result: dict[str, object] = {
        "documents": documents,
        "pdf_bytes": pdf_bytes,
        "in_process_s": job_seconds,
        "in_process_docs_per_s": documents / job_seconds,
        "weasyprint_alone_s": alone_seconds,
        "weasyprint_alone_docs_per_s": documents / alone_seconds,
        "ratio_job_to_weasyprint": job_seconds / alone_seconds,
        "python": platform.python_version(),
        "weasyprint": weasyprint.__version__,
        "cpu_count": os.cpu_count(),
    }
    if REDIS_PROBLEM:
        result["rq"] = f"skipped: {REDIS_PROBLEM}"
        return result
    from tests.conftest import REDIS_URL

    for name, worker_class, prefix in (("rq_forking", None, "F"), ("rq_simple", "rq.worker.SimpleWorker", "S"),
                                       ("rq_preloaded", "chorus_chain.jobs.worker.PreloadedWorker", "P")):
        rows = _ask(app, w.st1, pieces(prefix))  # new pieces: nothing cached
        seconds = _rq_burst(app, database_url, REDIS_URL, rows, worker_class)
        statuses = _statuses(app, rows)
        result[f"{name}_s"] = seconds
        result[f"{name}_docs_per_s"] = documents / seconds
        result[f"{name}_ratio_to_weasyprint"] = seconds / alone_seconds
        result[f"{name}_done"] = statuses.count("done")
    return result


def report(result: dict[str, object]) -> str:
    n = result["documents"]
    lines = [f"{n} invoice PDFs of real pieces (1 page, {result['pdf_bytes']} bytes each), WeasyPrint "
             f"{result['weasyprint']}, Python {result['python']}, {result['cpu_count']} CPUs",
             f"{'':34} {'total':>9} {'per doc':>9} {'docs/s':>7} {'ratio':>7}"]

    def line(label: str, seconds: float) -> str:
        return (f"{label:34} {seconds:7.2f} s {seconds / n * 1000:6.0f} ms {n / seconds:7.1f} "
                f"{seconds / result['weasyprint_alone_s']:6.2f}×")

    lines.append(line("WeasyPrint alone (same HTML)", result["weasyprint_alone_s"]))
    lines.append(line("job function, one process", result["in_process_s"]))
    if "rq_forking_s" in result:
        lines.append(line("rq worker --burst (fork per job)", result["rq_forking_s"])
                     + f"  [{result['rq_forking_done']}/{n} done]")
        lines.append(line("rq SimpleWorker --burst", result["rq_simple_s"]) + f"  [{result['rq_simple_done']}/{n} done]")
        lines.append(line("rq PreloadedWorker --burst (fork)", result["rq_preloaded_s"])
                     + f"  [{result['rq_preloaded_done']}/{n} done]")
    else:
        lines.append(f"rq: {result.get('rq')}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--documents", type=int, default=20, help="how many invoice PDFs")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    result = run(args.documents)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
