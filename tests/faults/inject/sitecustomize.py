"""Loaded by the fault tests' workers only (PYTHONPATH): each PDF takes CHORUS_FAULT_RENDER_DELAY seconds more, so
that a test has a window to kill -9 the work horse mid-PDF. Never on a real deployment's path."""
import os

_delay = float(os.environ.get("CHORUS_FAULT_RENDER_DELAY") or 0)
if _delay:
    import time

    from chorus_chain.documents import render as _render

    _original = _render.render_pdf

    def _slow_render_pdf(html, *args, **kwargs):
        if "Préchargement" not in html:  # the worker's warm-up stays fast
            time.sleep(_delay)
        return _original(html, *args, **kwargs)

    _render.render_pdf = _slow_render_pdf
