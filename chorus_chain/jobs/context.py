"""An application context for job functions: the caller's when there is one (inline jobs, tests), else one app
created once per worker process (rq forks a work horse per job; the parent's app is inherited)."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

from flask import has_app_context

_app = None


def _worker_app():
    global _app
    if _app is None:
        from chorus_chain import create_app

        _app = create_app()
    return _app


@contextmanager
def job_context():
    if has_app_context():
        with nullcontext():
            yield
    else:
        with _worker_app().app_context():
            yield
