"""board read model (issue 20): the Tableau de bord's list filtered on a status reads its page on every sort.

A status (a line of « Par statut ») on another sort than the date or the status had no index holding the status
before the sort's column: the list sifted the structure's rows in the sort's order (at most a quarter of the
status's rows, `lists.SIFTED`) and, when the page was not among them, read every row of the status and sorted them —
at a million pieces 27 480 rows for the titulaire's « À valider » by ascending number, 31 918 for the maître
d'œuvre's by amount, to show 25. With (structure, status, sort column, piece) for the number, the amount and the
marché's reference, the page is the index's entries from the cursor, read forwards or backwards (`per_page + 1`),
as (structure, status, sort_date, piece) does for the date since migration 0038. Indexes on existing columns:
nothing to fill, nothing for `flask board recompute` to check.

Every write of a board row pays for them (a status change rewrites the piece's rows into every index): measured
with bench/actions.py (bench/README.md, issue 20 session 14).

On a live database, build them without blocking the writes, outside a transaction, then stamp this revision:

    CREATE INDEX CONCURRENTLY ix_board_row_status_number ON board_row (structure_id, status, number_key, piece_id);
    CREATE INDEX CONCURRENTLY ix_board_row_status_amount ON board_row (structure_id, status, montant_ttc, piece_id);
    CREATE INDEX CONCURRENTLY ix_board_row_status_marche_ref
        ON board_row (structure_id, status, marche_reference, piece_id);
    -- then: flask db stamp <this revision>

(a CONCURRENTLY build that fails leaves an INVALID index: drop it and build it again).

Revision ID: 0b4d7e2a6c31
Revises: 9b3e6d1f4a27
Create Date: 2026-12-07 15:10:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0b4d7e2a6c31'
down_revision = '9b3e6d1f4a27'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_board_row_status_number': ['structure_id', 'status', 'number_key', 'piece_id'],
    'ix_board_row_status_amount': ['structure_id', 'status', 'montant_ttc', 'piece_id'],
    'ix_board_row_status_marche_ref': ['structure_id', 'status', 'marche_reference', 'piece_id'],
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, 'board_row', columns)


def downgrade():
    for name in INDEXES:
        op.drop_index(name, table_name='board_row')
