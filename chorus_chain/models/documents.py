"""Generated documents (issue 6): a PDF, a Factur-X or a dossier ZIP rendered off the request path by an rq job.

A row is one rendering, keyed by the SHA-256 of everything the document is made from (`content_key`): asking again
for the same content finds the row (and its file) instead of rendering twice — an issued piece's PDF never changes.
The bytes go to `stored_file` like every other file. `progress` (0–100) is what the page's indicator shows.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from chorus_chain.models.base import Base, check_in, utcnow

DOCUMENT_STATUSES = ("queued", "running", "done", "failed")


class GeneratedDocument(Base):
    __tablename__ = "generated_document"
    __table_args__ = (
        CheckConstraint(check_in("status", DOCUMENT_STATUSES), name="status"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress"),
        Index("ux_generated_document_key", "structure_id", "content_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The structure that asked (a document shows what its asker may see): the tenant of the row.
    structure_id: Mapped[int] = mapped_column(ForeignKey("structure.id"))
    marche_id: Mapped[int | None] = mapped_column(ForeignKey("marche.id"), index=True)
    piece_id: Mapped[int | None] = mapped_column(ForeignKey("piece.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # "piece_pdf", "facturx", "dossier_zip", ...
    content_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    progress: Mapped[int] = mapped_column(default=0)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_file.sha256"))
    error: Mapped[str | None] = mapped_column(String(500))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)  # also the job's heartbeat
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # renderings started
