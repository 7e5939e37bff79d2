"""the Tableau de bord's waiting panels read by status (issue 20): `ix_board_row_waiting_status`.

A waiting panel (`board_reading.lists.waiting_panels`) lists the first pieces of its statuses waiting on the structure,
in the waiting order, with a count capped at CAP + 1. Along `ix_board_row_waiting` (no status column) both read
through the waiting rows of every other status ahead of the panel's: for the maître d'ouvrage at 1 000 000 pieces,
the « À payer » panel filtered 17 811 états to reach its rows (36 380 rows for the panels). This partial index,
(structure, status, then the waiting order) WHERE waiting, gives each status of a panel its own ordered range.

Revision ID: 3e6a9d1c7b20
Revises: 7b1d3f5a9c42
Create Date: 2026-12-06 22:35:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '3e6a9d1c7b20'
down_revision = '7b1d3f5a9c42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_board_row_waiting_status', 'board_row',
                    ['structure_id', 'status', 'next_due', sa.text('sort_date DESC'), sa.text('piece_id DESC')],
                    postgresql_where=sa.text('waiting'), sqlite_where=sa.text('waiting'))


def downgrade():
    op.drop_index('ix_board_row_waiting_status', table_name='board_row', postgresql_where=sa.text('waiting'),
                  sqlite_where=sa.text('waiting'))
