"""Starting a projet de décompte (A4, A10, A13; final A7, A14) from its décompte, not from an amount.

The user chooses the marché, the title it deposits under (its party and cadre), the works month — by default the
month after its last décompte — and the piece's number; the draft is created with no amount (its amounts are the
décompte's, entered line by line next) and its décompte saved for the month, each line starting at last month's
cumul. Nothing is invented: the draft's amount is 0 until a cumul is entered, and it cannot be sent at 0.
Operations flush, never commit.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from chorus_chain.domain.money import MoneyError
from chorus_chain.domain.money.rounding import check_month
from chorus_chain.models import Account, Piece, Structure
from chorus_chain.operations import OperationError
from chorus_chain.operations import decomptes
from chorus_chain.operations import pieces_drafts
from chorus_chain.operations.marches import today


def _month_after(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    return f"{year:04d}-{number:02d}"


def default_month(party_id: int, now: datetime) -> str:
    """The works month a new décompte covers: the month after the party's last décompte (deposited and not refused);
    for its first one, the month before today's (a month's works are claimed once it has ended)."""
    last = decomptes._counted(party_id)
    if last is not None:
        return _month_after(last.month)
    first = today(now).replace(day=1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def suggested_number(month: str) -> str:
    """A number the user may keep or change: « PDM-2026-11 »."""
    return f"PDM-{month}"


def start_decompte(account: Account, structure: Structure, marche_id: int, raw: Mapping[str, Any], *,
                   main_file: pieces_drafts.UploadedFile | None = None,
                   attachments: Iterable[pieces_drafts.UploadedFile] = (), now: datetime) -> Piece:
    """Create a PDM draft from its décompte. `raw`: party_id, cadre (a PDM cadre), month ("AAAA-MM"), number,
    issue_date (default today). The draft's routing comes from the marché (`draft_defaults`); its amounts are 0
    until the décompte is entered. Refused with OperationError(message, field), nothing kept. Right: travaux
    modification (the view checks it)."""
    cadre = (str(raw.get("cadre") or "")).strip().upper()
    if cadre not in decomptes.PDM_CADRES:
        raise OperationError("Seul un projet de décompte (A4, A10, A13, A7, A14) se saisit ligne par ligne.",
                             field="cadre")
    try:
        party_id = int(raw.get("party_id"))
    except (TypeError, ValueError):
        raise OperationError("Choisissez à quel titre vous déposez le projet de décompte.", field="party_id") from None
    try:
        month = check_month(str(raw.get("month") or "").strip(), "month")
    except MoneyError as error:
        raise OperationError(error.message, field="month") from None
    form = pieces_drafts.draft_defaults(structure, marche_id, party_id, cadre)
    issue_date = str(raw.get("issue_date") or "").strip() or today(now).isoformat()
    form.update(number=str(raw.get("number") or "").strip(), issue_date=issue_date,
                montant_ht="", montant_tva="", montant_ttc="")
    piece = pieces_drafts.create_draft(account, structure, marche_id, form, main_file=main_file,
                                       attachments=attachments, now=now)
    decomptes.save_decompte(account, structure, piece.id, {"month": month}, now=now)
    return piece


def has_lines(marche_id: int, party) -> bool:
    """Whether the party has lines in the marché's bordereau: its PDM then starts from its décompte; without any
    (a marché whose bordereau is not entered), its PDF and its amount are the piece."""
    return bool(decomptes.party_lines(marche_id, party))
