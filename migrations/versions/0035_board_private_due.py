"""board read model (issue 20): an unpaid private invoice's due date on board_row, for the « Factures entre
entreprises échues, non payées » panel (`private_invoices.overdue.overdue_for`, on the Synthèse and the Tableau de
bord).

- `private_due` (a date): the day an unpaid private invoice (no cadre, « transmise » or « acceptée » by its
  contractor) falls due — the term its emitter agreed with its contractor (`marche_party.commercial_term_days`,
  « fin de mois » or not), or the legal 30 days — on the rows of its emitter and of its contractor, else NULL
  (`operations.board.rows`, `private_invoices.due_sql`).
- `ix_board_row_private_due` (structure, due, piece) WHERE private_due IS NOT NULL: the panel reads the overdue
  invoices of the structure as the first entries of its range, up to what it shows, instead of every unpaid private
  invoice of the structure joined to its piece and sorted (12 264 candidate rows, 89 ms, for the sous-traitant at
  a million pieces).

The column is filled here on PostgreSQL (the rows of unpaid private invoices only: a small part of board_row), with
the same rule as `board.rows`; `flask board recompute --check` reports no difference after it. On SQLite (the
embedded default) `flask board recompute` fills it.

Revision ID: 5c8e2a4f6d31
Revises: 8f1a3c5e7b92
Create Date: 2026-12-07 00:10:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '5c8e2a4f6d31'
down_revision = '8f1a3c5e7b92'
branch_labels = None
depends_on = None

WHERE = sa.text('private_due IS NOT NULL')
# The rule of operations.board.rows (private_due) as it stands at this revision: an unpaid private invoice, on the
# rows of its emitter and of its contractor (" contractor " in the access row's roles), due `days` after its date
# or at the end of the month those days end in, 30 days when nothing was agreed.
BACKFILL = """
UPDATE board_row AS b
SET private_due = CASE
    WHEN mp.commercial_term_days IS NOT NULL AND coalesce(mp.commercial_term_end_of_month, false)
    THEN CAST(date_trunc('month', CAST(p.issue_date + mp.commercial_term_days AS TIMESTAMP WITHOUT TIME ZONE))
              + INTERVAL '1 month' - INTERVAL '1 day' AS DATE)
    ELSE p.issue_date + coalesce(mp.commercial_term_days, 30) END
FROM piece AS p JOIN marche_party AS mp ON mp.id = p.emitter_party_id
WHERE p.id = b.piece_id AND b.cadre IS NULL AND p.cadre IS NULL
  AND p.status IN ('TRANSMISE_CONTRACTANT', 'ACCEPTEE_CONTRACTANT') AND p.issue_date IS NOT NULL
  AND (b.structure_id = p.emitter_structure_id OR b.roles LIKE '% contractor %')
"""


def upgrade():
    with op.batch_alter_table('board_row', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private_due', sa.Date(), nullable=True))
    # The index before the backfill: built after an UPDATE of its column in the same transaction, PostgreSQL marks
    # it usable only by transactions younger than every one running then (pg_index.indcheckxmin), and the planner
    # ignored it while any older transaction lived on the server.
    op.create_index('ix_board_row_private_due', 'board_row', ['structure_id', 'private_due', 'piece_id'],
                    postgresql_where=WHERE, sqlite_where=WHERE)
    if op.get_bind().dialect.name == 'postgresql':
        # Row-level security is forced on board_row and piece: the backfill reads and writes every structure's
        # rows, as `flask board recompute` does (its system setting, for this transaction only).
        op.execute("SELECT set_config('chorus.system', 'on', true)")
        op.execute(BACKFILL)
        op.execute("SELECT set_config('chorus.system', 'off', true)")
        # The new column's statistics (almost all NULL): without them the planner takes the partial index for a
        # large one and prefers reading the structure's rows.
        op.execute("ANALYZE board_row")


def downgrade():
    op.drop_index('ix_board_row_private_due', table_name='board_row', postgresql_where=WHERE, sqlite_where=WHERE)
    with op.batch_alter_table('board_row', schema=None) as batch_op:
        batch_op.drop_column('private_due')
