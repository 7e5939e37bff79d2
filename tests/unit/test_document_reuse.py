"""When a generated document is offered at once (domain.document_reuse): done, nothing changed since, today's for
a dated kind; on the safe side otherwise."""
from __future__ import annotations

from datetime import date, datetime, timezone
from types import SimpleNamespace

from chorus_chain.domain.document_reuse import latest_by_kind, reusable

RENDERED = datetime(2026, 3, 2, 22, 30, tzinfo=timezone.utc)  # 23:30 in Paris, 2 March
BEFORE = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
AFTER = datetime(2026, 3, 2, 23, 0, tzinfo=timezone.utc)


def test_a_done_pdf_of_an_unchanged_piece_is_reused():
    assert reusable("piece_pdf", "done", RENDERED, today=date(2026, 5, 1), data_changed_at=BEFORE)
    assert reusable("piece_pdf", "done", RENDERED, today=date(2026, 5, 1), data_changed_at=RENDERED)


def test_not_done_or_changed_since_or_unknown_is_not_reused():
    for status in ("queued", "running", "failed"):
        assert not reusable("piece_pdf", status, RENDERED, today=date(2026, 3, 2), data_changed_at=BEFORE)
    assert not reusable("piece_pdf", "done", RENDERED, today=date(2026, 3, 2), data_changed_at=AFTER)
    assert not reusable("piece_pdf", "done", RENDERED, today=date(2026, 3, 2), data_changed_at=None)
    assert not reusable("piece_pdf", "done", None, today=date(2026, 3, 2), data_changed_at=BEFORE)


def test_a_dated_kind_is_reused_the_same_paris_day_only():
    for kind in ("attestation", "interets", "fiche", "marche_zip"):
        assert reusable(kind, "done", RENDERED, today=date(2026, 3, 2), data_changed_at=BEFORE)
        assert not reusable(kind, "done", RENDERED, today=date(2026, 3, 3), data_changed_at=BEFORE)
    # 23:30 UTC on 2 March is already 3 March in Paris (winter: UTC+1).
    late = datetime(2026, 3, 2, 23, 30, tzinfo=timezone.utc)
    assert reusable("interets", "done", late, today=date(2026, 3, 3), data_changed_at=BEFORE)
    assert not reusable("interets", "done", late, today=date(2026, 3, 2), data_changed_at=BEFORE)


def test_latest_by_kind_keeps_the_last_request_of_each_kind():
    rows = [SimpleNamespace(id=3, kind="piece_pdf"), SimpleNamespace(id=7, kind="piece_pdf"),
            SimpleNamespace(id=5, kind="facturx"), SimpleNamespace(id=1, kind="piece_pdf")]
    latest = latest_by_kind(rows)
    assert {kind: row.id for kind, row in latest.items()} == {"piece_pdf": 7, "facturx": 5}
