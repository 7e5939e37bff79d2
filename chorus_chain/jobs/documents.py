"""Rendering a generated document (operations/documents.py): a PDF, a Factur-X or a ZIP, off the request path.

The job takes the row's id, works under the tenant who asked (the same access predicate as their pages), commits its
progress as it goes (the page polls it; every commit is also the row's heartbeat, `updated_at`), stores the bytes and
marks the row done. A refusal (the data changed, a right withdrawn) marks it failed with the French message the page
shows — trying again would give the same answer. Any other error, or a work horse killed mid-PDF, is the outbox's to
retry (`jobs.outbox`: backoff, then `give_up` marks the row failed and the page offers « Réessayer »).

Safe to run twice: a row already done is left alone, and a row another live try is rendering (its heartbeat younger
than DOCUMENT_STALL_SECONDS) is left to it.
"""
from __future__ import annotations

import logging
from sqlalchemy import select

from chorus_chain.access import tenant
from chorus_chain.documents.from_pieces import DocumentUnavailable
from chorus_chain.extensions import db
from chorus_chain.jobs.context import durably, job_context
from chorus_chain.models import GeneratedDocument, Structure
from chorus_chain.models.base import utcnow
from chorus_chain.operations import OperationError
from chorus_chain.operations import documents as ops

log = logging.getLogger(__name__)


def render_document(document_id: int, etat_id: int | None = None, on: str | None = None) -> str | None:
    """Render the document of row `document_id`; returns its final status."""
    with job_context():
        return _render(document_id, {"etat_id": etat_id, "on": on})


def store_etat_pdf(etat_id: int) -> bool:
    """The état's PDF stored as its A15's main file (operations.etat_pieces.pdf): system work, for no user."""
    from chorus_chain.access import system_access
    from chorus_chain.operations.etat_pieces import pdf

    with job_context(), system_access("jobs: the état's PDF stored as the main file of its A15"):
        done = pdf.store_a15_pdf(etat_id, utcnow())
        db.session.commit()
        return done


def store_etat_valide_pdf(etat_id: int) -> bool:
    """The validated état's PDF stored as its A19's main file (operations.etat_pieces.validated_pdf): system work,
    for no user."""
    from chorus_chain.access import system_access
    from chorus_chain.operations.etat_pieces import validated_pdf

    with job_context(), system_access("jobs: the validated état's PDF stored as the main file of its A19"):
        done = validated_pdf.store_a19_pdf(etat_id, utcnow())
        db.session.commit()
        return done


class DocumentBusy(Exception):
    """Another try is rendering this row and gave a sign of life lately: the outbox tries again later (by then it is
    done, or stalled and taken over)."""


def _claim(document_id: int) -> int | None:
    """Take the row for this try (its structure's id), or None when there is nothing to do (gone, or done). Raises
    DocumentBusy while another live try renders it."""
    query = select(GeneratedDocument).where(GeneratedDocument.id == document_id)
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = db.session.scalar(query)
    now = utcnow()
    if row is None or row.status == "done":
        db.session.commit()
        return None
    if row.status == "running" and not ops.is_stalled(row, now):
        db.session.commit()
        raise DocumentBusy(f"document {document_id} rendered by another try")
    row.status, row.progress, row.error, row.updated_at = "running", 5, None, now
    row.attempts += 1
    structure_id = row.structure_id
    db.session.commit()
    return structure_id


def _render(document_id: int, payload: dict) -> str | None:
    structure_id = _claim(document_id)
    if structure_id is None:
        row = db.session.get(GeneratedDocument, document_id)
        return row.status if row else None

    def progress(percent: int) -> None:  # also the heartbeat: a live job touches its row
        current = db.session.get(GeneratedDocument, document_id)
        current.progress = max(current.progress, min(int(percent), 99))
        current.updated_at = utcnow()
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
    except Exception:  # a bug, a resource refused, the database gone: the outbox tries again (the page waits)
        log.exception("document %s failed, to be retried", document_id)
        db.session.rollback()
        durably(lambda: _requeue(document_id))
        raise


def _requeue(document_id: int) -> None:
    row = db.session.get(GeneratedDocument, document_id)
    if row is not None and row.status == "running":
        row.status, row.progress = "queued", 0
    db.session.commit()


def give_up(document_id: int, error: str, **_payload) -> None:
    """The outbox's last try failed: the row is failed and the page offers « Réessayer ». Flushes only (the outbox
    commits with its own row)."""
    row = db.session.get(GeneratedDocument, document_id)
    if row is not None and row.status != "done":
        row.status, row.error = "failed", ops.FAILED_MESSAGE
        db.session.flush()


def replay(document_id: int, **_payload) -> None:
    """An operator replays the job: the page shows the document queued again. Flushes only."""
    row = db.session.get(GeneratedDocument, document_id)
    if row is not None and row.status == "failed":
        row.status, row.progress, row.error = "queued", 0, None
        db.session.flush()


def _fail(document_id: int, message: str) -> str:
    db.session.rollback()
    row = db.session.get(GeneratedDocument, document_id)
    if row is not None:
        row.status, row.error = "failed", message[:500]
        db.session.commit()
    return "failed"
