"""board read model (issue 20): the Tableau de bord's list filtered on a status reads its page, `ix_board_row_status_date`.

The list filtered on a status (a click on a line of « Par statut ») in its default order, newest first, read every row
of the structure in that status through `ix_board_row_status` (structure, status, piece) and sorted them: all the
paid pieces of a structure's history for « Payée » (titulaire at 100 000 pieces, « À valider »: 1 214 rows, 1 153
buffers, 10–50 ms). With (structure, status, sort_date, piece) the page is the index's first entries read backwards
(26 entries, 0.3 ms). An index on existing columns: nothing to fill, nothing for `flask board recompute` to check.

Revision ID: 8f2b5d7c9a14
Revises: 7e1a4c6b8f53
Create Date: 2026-12-07 03:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '8f2b5d7c9a14'
down_revision = '7e1a4c6b8f53'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_board_row_status_date', 'board_row', ['structure_id', 'status', 'sort_date', 'piece_id'])


def downgrade():
    op.drop_index('ix_board_row_status_date', table_name='board_row')
