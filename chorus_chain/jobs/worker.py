"""An rq worker that loads the application and WeasyPrint once, in the parent, before it forks a work horse per job.

Why: rq's default worker forks a fresh work horse for every job. Our job functions open their app context lazily
(`jobs.context`), so with the plain worker every horse created the Flask app again and imported WeasyPrint and its
fonts again: measured by bench/pdf_jobs.py, a one-page PDF cost about eleven times WeasyPrint alone. Loaded here
once, every horse inherits them by fork (copy-on-write) and keeps the isolation of one process per job.

The parent never opens a database connection (creating the app does not connect), so no connection is shared across
a fork. Use it with `rq worker --worker-class chorus_chain.jobs.worker.PreloadedWorker --with-scheduler mail sweeps` (see the Procfile).
"""
from __future__ import annotations

from rq.worker import Worker


class PreloadedWorker(Worker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        preload()


def preload() -> None:
    """Create the worker's app and render a tiny PDF (imports WeasyPrint, loads the fonts and the templates)."""
    from chorus_chain.documents.render import render_pdf
    from chorus_chain.jobs import documents  # noqa: F401 - the job module and the operations it imports
    from chorus_chain.jobs.context import _worker_app

    _worker_app()
    render_pdf('<html lang="fr"><body style="font-family: \'DejaVu Sans\'">Préchargement</body></html>')
