"""Pièces de facturation: the operations the pages call (one module to import; the work is split in
`pieces_drafts`, `pieces_actions`, `pieces_queries`, `pieces_deadlines`, `pieces_records`, `notifications`).

Every operation flushes and never commits (the request does); a refusal is `OperationError(message_fr, field)` and,
raised before anything is flushed or inside the failed request, leaves nothing behind. Operations act for the
current tenant (`chorus_chain.access`: the tenant pages set it from the URL): a piece the tenant does not see does not
exist for them (the ORM criteria and, on PostgreSQL, row-level security).

Rights (the views check them: `tenancy.require_right` / `has_right`). The domain of a piece is "travaux" for a works
piece (`piece.works`), otherwise "emises" for its emitter and "recues" for every other structure
(`rights_domain(piece, structure_id)`):

| operation | right |
|---|---|
| deposit_choices, draft_defaults, create_draft, update_draft, remove_file, deposit | emises/travaux: modification |
| preflight (shown before sending), piece_for, dossier_of, file_content | consultation in the piece's domain |
| pieces_for("emises") | emises/travaux: consultation |
| pieces_for("recues" / "a_traiter") | recues/travaux (and emises for its drafts): consultation |
| allowed_actions_for | consultation (offer the buttons only with modification) |
| act (every action, the emitter's resend / complete / redirect_validator / acknowledge included) | modification |
| unread_count, unread_notifications, recent_notifications, mark_read | membership of the structure |
| preferences, set_preference | one's own account |

Pages: a piece's page is /s/<siret>/pieces/<id> (endpoint "pieces.show", used in notifications and e-mails).
"""
from chorus_chain.operations.notifications import (
    mark_read,
    piece_path,
    preferences,
    recent_notifications,
    set_preference,
    unread_count,
    unread_label,
    unread_notifications,
)
from chorus_chain.operations.pieces_actions import ActionChoice, act, allowed_actions_for, who_acts
from chorus_chain.operations.pieces_drafts import (
    DepositChoice,
    PreflightRefused,
    Problem,
    UploadedFile,
    add_files,
    create_draft,
    deposit,
    deposit_choices,
    draft_defaults,
    file_content,
    files_of,
    preflight,
    remove_file,
    update_draft,
)
from chorus_chain.operations.pieces_queries import (
    BOXES,
    Dossier,
    PiecePage,
    PieceRow,
    TimelineEntry,
    dossier_of,
    piece_for,
    pieces_for,
)
from chorus_chain.operations.pieces_records import actors_of, events_of, open_deadlines, rights_domain

__all__ = [
    "BOXES",
    "ActionChoice",
    "DepositChoice",
    "Dossier",
    "PiecePage",
    "PieceRow",
    "PreflightRefused",
    "Problem",
    "TimelineEntry",
    "UploadedFile",
    "act",
    "actors_of",
    "add_files",
    "allowed_actions_for",
    "create_draft",
    "deposit",
    "deposit_choices",
    "dossier_of",
    "draft_defaults",
    "events_of",
    "file_content",
    "files_of",
    "mark_read",
    "open_deadlines",
    "piece_for",
    "piece_path",
    "pieces_for",
    "preferences",
    "preflight",
    "recent_notifications",
    "remove_file",
    "rights_domain",
    "set_preference",
    "unread_count",
    "unread_label",
    "unread_notifications",
    "update_draft",
    "who_acts",
]
