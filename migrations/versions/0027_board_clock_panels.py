"""board read model (issue 20): the open clocks of the Tableau de bord's clock panels carried by board_row, and the
payment tracker's index led by the emitter.

- `payment_clock_id` / `payment_due`, `corrections_clock_id` / `corrections_due`: the piece's open clock of each panel
  (`operations.board.rows.CLOCK_PANELS`: the MOA's délai global de paiement, the MOE's corrections to contest) on
  the rows of the structures that play one of the panel's parts on it; a partial index per panel (structure, due,
  clock, piece) where the clock is set. The panels read their rows, not every open clock joined to the access rows.
- `ix_board_row_emitted` (emitter, structure, deposit, piece) replaces the partial `ix_board_row_own`
  (WHERE structure_id = emitter_structure_id), which PostgreSQL never used: it rewrites both sides of that equality
  to the query's constant, then cannot prove the index's predicate.

The new columns start NULL: `flask board recompute` fills them (the release step runs it after `flask db upgrade`,
as for 0023; `--check` reports the rows to fill before).

Revision ID: 3f5a7c9e1b26
Revises: 2d6f8b0a4e25
Create Date: 2026-12-06 17:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3f5a7c9e1b26'
down_revision = '2d6f8b0a4e25'
branch_labels = None
depends_on = None

OWN_PIECE = "structure_id = emitter_structure_id"
PANELS = ("payment", "corrections")


def upgrade():
    with op.batch_alter_table('board_row', schema=None) as batch_op:
        for panel in PANELS:
            batch_op.add_column(sa.Column(f'{panel}_clock_id', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column(f'{panel}_due', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_board_row_own', postgresql_where=sa.text(OWN_PIECE), sqlite_where=sa.text(OWN_PIECE))
        batch_op.create_index('ix_board_row_emitted', ['emitter_structure_id', 'structure_id', 'deposited_at',
                                                       'piece_id'], unique=False)
        for panel in PANELS:
            where = sa.text(f'{panel}_clock_id IS NOT NULL')
            batch_op.create_index(f'ix_board_row_{panel}_clock',
                                  ['structure_id', f'{panel}_due', f'{panel}_clock_id', 'piece_id'],
                                  unique=False, postgresql_where=where, sqlite_where=where)


def downgrade():
    with op.batch_alter_table('board_row', schema=None) as batch_op:
        for panel in PANELS:
            where = sa.text(f'{panel}_clock_id IS NOT NULL')
            batch_op.drop_index(f'ix_board_row_{panel}_clock', postgresql_where=where, sqlite_where=where)
        batch_op.drop_index('ix_board_row_emitted')
        batch_op.create_index('ix_board_row_own', ['structure_id', 'deposited_at', 'piece_id'], unique=False,
                              postgresql_where=sa.text(OWN_PIECE), sqlite_where=sa.text(OWN_PIECE))
        for panel in reversed(PANELS):
            batch_op.drop_column(f'{panel}_due')
            batch_op.drop_column(f'{panel}_clock_id')
