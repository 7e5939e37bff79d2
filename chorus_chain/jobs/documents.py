"""Rendering a generated document (operations/documents.py): a PDF, a Factur-X or a ZIP, off the request path.

The job takes the row's id, works under the tenant who asked (the same access predicate as their pages), commits its
progress as it goes (the page polls it), stores the bytes and marks the row done; any refusal or error marks it
failed with a French message the page shows, and is not retried by itself (the user asks again). Safe to run
twice: a row already done is left alone.
"""
from __future__ import annotations

import logging

from chorus_chain.access import tenant
from chorus_chain.documents.from_pieces import DocumentUnavailable
from chorus_chain.extensions import db
from chorus_chain.jobs.context import job_context
from chorus_chain.models import GeneratedDocument, Structure
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import documents as ops

log = logging.getLogger(__name__)


def render_document(document_id: int, etat_id: int | None = None, on: str | None = None) -> str | None:
    """Render the document of row `document_id`; returns its final status."""
    with job_context():
        return _render(document_id, {"etat_id": etat_id, "on": on})


def _render(document_id: int, payload: dict) -> str | None:
    row = db.session.get(GeneratedDocument, document_id)
    if row is None or row.status == "done":
        return row.status if row else None
    structure_id = row.structure_id
    row.status, row.progress, row.error = "running", 5, None
    db.session.commit()

    def progress(percent: int) -> None:
        current = db.session.get(GeneratedDocument, document_id)
        current.progress = max(current.progress, min(int(percent), 99))
        db.session.commit()

    try:
        with tenant(structure_id):
            structure = db.session.get(Structure, structure_id)
            row = db.session.get(GeneratedDocument, document_id)
            now = utcnow()
            content = ops.build_content(row, structure, payload, progress, now)
            sha = ops.store_content(content, now)
            row = db.session.get(GeneratedDocument, document_id)
            row.sha256, row.status, row.progress, row.error = sha, "done", 100, None
            db.session.commit()
            return "done"
    except (DocumentUnavailable, OperationError) as refusal:
        return _fail(document_id, refusal.message)
    except Exception:  # a bug or a resource refused: logged in full, the user reads a plain French message
        log.exception("document %s failed", document_id)
        return _fail(document_id, ops.FAILED_MESSAGE)


def _fail(document_id: int, message: str) -> str:
    db.session.rollback()
    row = db.session.get(GeneratedDocument, document_id)
    if row is not None:
        row.status, row.error = "failed", message[:500]
        db.session.commit()
    return "failed"
