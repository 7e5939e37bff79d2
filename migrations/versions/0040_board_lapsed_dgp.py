"""board read model (issue 20): a délai global de paiement the sweep ended while the payment is still awaited stays the
piece's clock on its board rows.

The expiry of a DGP is no action (alerts only): the piece is unchanged, the payment is awaited and now late. The
read model now keeps such a clock as the piece's — `next_due`, `next_kind`, and the « délai global de paiement »
panel's `payment_clock_id` / `payment_due` on the rows of the MOA and the paying office — and the pages show it
overdue (its due instant against now), as they did between that instant and the sweep; the payment takes it off
as it takes an open one (`pieces_queries.counting_clock`, `domain.deadlines.counts_after_expiry`). The sweep
therefore rewrites no board row for a lapsed DGP (bench/deadline_sweep.py: 52 306 of 81 916 deadlines).

The rows of the pieces holding such a clock are brought to the new rule here, on PostgreSQL, in SQL as the rule
stands at this revision (their rollups are unchanged: no bucket nor measure reads a clock); `flask board recompute
--check` reports no difference after it. On SQLite (the embedded default) `flask board recompute` corrects them.

Revision ID: 9b3e6d1f4a27
Revises: 9a3c5e7f1b26
Create Date: 2026-12-07 06:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '9b3e6d1f4a27'
down_revision = '9a3c5e7f1b26'
branch_labels = None
depends_on = None

# Every status a DGP runs in (domain.deadlines.PAIEMENT_STATUSES at this revision).
RUNNING = ("'A_ASSOCIER_MOE', 'PRISE_EN_COMPTE_MOE', 'ABSENCE_VALIDATION_MOE_DELAI_REGLEMENTAIRE', 'A_ASSOCIER_MOA', "
           "'PRISE_EN_COMPTE_MOA', 'DEPOSEE', 'MISE_A_DISPOSITION', 'SUSPENDUE', 'COMPLETEE', 'SERVICE_FAIT', "
           "'MANDATEE'")
# The clocks a piece's rows count (`counting_clock`): the open ones, and its latest DGP ended while the piece is in a
# status it runs in. `d` is the deadline, `p` its piece.
COUNTING = f"""(d.done_at IS NULL OR (d.kind = 'paiement' AND p.status IN ({RUNNING})
  AND NOT EXISTS (SELECT 1 FROM deadline AS l
                  WHERE l.piece_id = d.piece_id AND l.kind = 'paiement' AND l.id > d.id)))"""
BACKFILL = f"""
WITH lapsed AS (
    SELECT DISTINCT d.piece_id FROM deadline AS d JOIN piece AS p ON p.id = d.piece_id
    WHERE d.kind = 'paiement' AND d.done_at IS NOT NULL AND {COUNTING}
)
UPDATE board_row AS b
SET next_due = (SELECT d.due_at FROM deadline AS d JOIN piece AS p ON p.id = d.piece_id
                WHERE d.piece_id = b.piece_id AND {COUNTING} ORDER BY d.due_at, d.id LIMIT 1),
    next_kind = (SELECT d.kind FROM deadline AS d JOIN piece AS p ON p.id = d.piece_id
                 WHERE d.piece_id = b.piece_id AND {COUNTING} ORDER BY d.due_at, d.id LIMIT 1),
    payment_clock_id = CASE WHEN b.roles LIKE '% moa %' OR b.roles LIKE '% paiement %' THEN
        (SELECT d.id FROM deadline AS d JOIN piece AS p ON p.id = d.piece_id
         WHERE d.piece_id = b.piece_id AND d.kind = 'paiement' AND {COUNTING} ORDER BY d.due_at, d.id LIMIT 1) END,
    payment_due = CASE WHEN b.roles LIKE '% moa %' OR b.roles LIKE '% paiement %' THEN
        (SELECT d.due_at FROM deadline AS d JOIN piece AS p ON p.id = d.piece_id
         WHERE d.piece_id = b.piece_id AND d.kind = 'paiement' AND {COUNTING} ORDER BY d.due_at, d.id LIMIT 1) END
FROM lapsed
WHERE b.piece_id = lapsed.piece_id
"""


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # Row-level security is forced on board_row, piece and deadline: the backfill reads and writes every
        # structure's rows, as `flask board recompute` does (its system setting, for this transaction only).
        op.execute("SELECT set_config('chorus.system', 'on', true)")
        op.execute(BACKFILL)
        op.execute("SELECT set_config('chorus.system', 'off', true)")


def downgrade():
    # The rows keep the clock until `flask board recompute` (with the previous rule) takes it off: nothing to undo in
    # the schema.
    pass
