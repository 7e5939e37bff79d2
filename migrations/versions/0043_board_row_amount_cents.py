"""board read model (issue 20): the amount sort reads its key in cents, so that a later page starts at its cursor.

Under row-level security PostgreSQL runs a condition inside an index scan only if its operators are leakproof (else
after the policy's); numeric comparisons are not, bigint's are. The amount sort's cursor, `(montant_ttc, piece_id) >
(…)`, was therefore a filter on the structure's entries of `ix_board_row_amount` from the first one: page n read about
25 × n entries (the unfiltered amount sort and a status's, `ix_board_row_status_amount`, alike). `montant_cents`
(`round(montant_ttc × 100)`, exact for two decimals) is a bigint: the cursor is an index condition and a page reads
`per_page + 1` entries from it, whatever its depth. The two amount indexes are built on it instead of `montant_ttc`
(no new index: a status change writes as many entries as before).

The column is written by every writer of board_row (`operations.board.rows.board_select`, its `in_cents`) and
compared by `flask board recompute --check`; here it is filled in SQL, the same rule.

Here the column is filled by one rewrite of board_row (`ALTER … TYPE … USING`), its indexes rebuilt, under an exclusive
lock on the table — 100 000 pieces: see bench/README.md. On a live database instead: add the column, deploy the code
that writes it, fill the rows still NULL in batches, build the indexes without blocking the writes, then stamp:

    ALTER TABLE board_row ADD COLUMN montant_cents bigint;
    -- deploy; then, a range of structures per transaction until none is left:
    UPDATE board_row SET montant_cents = round(montant_ttc * 100)::bigint
        WHERE montant_cents IS NULL AND structure_id BETWEEN :lo AND :hi;
    CREATE INDEX CONCURRENTLY ix_board_row_amount_0043 ON board_row (structure_id, montant_cents, piece_id);
    CREATE INDEX CONCURRENTLY ix_board_row_status_amount_0043
        ON board_row (structure_id, status, montant_cents, piece_id);
    DROP INDEX CONCURRENTLY ix_board_row_amount;
    DROP INDEX CONCURRENTLY ix_board_row_status_amount;
    ALTER INDEX ix_board_row_amount_0043 RENAME TO ix_board_row_amount;
    ALTER INDEX ix_board_row_status_amount_0043 RENAME TO ix_board_row_status_amount;
    -- SET NOT NULL scans the table under an exclusive lock unless a valid CHECK proves it first:
    ALTER TABLE board_row ADD CONSTRAINT ck_board_row_montant_cents CHECK (montant_cents IS NOT NULL) NOT VALID;
    ALTER TABLE board_row VALIDATE CONSTRAINT ck_board_row_montant_cents;
    ALTER TABLE board_row ALTER COLUMN montant_cents SET NOT NULL;
    ALTER TABLE board_row DROP CONSTRAINT ck_board_row_montant_cents;
    -- then: flask db stamp <this revision>

(a CONCURRENTLY build that fails leaves an INVALID index: drop it and build it again).

Revision ID: 5256240e78f6
Revises: 7d3a9c1e5b42
Create Date: 2026-12-07 18:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5256240e78f6'
down_revision = '7d3a9c1e5b42'
branch_labels = None
depends_on = None

CENTS = 'CAST(round(montant_ttc * 100) AS BIGINT)'


def upgrade():
    # The old indexes first: the fill then builds no entry of theirs.
    op.drop_index('ix_board_row_amount', table_name='board_row')
    op.drop_index('ix_board_row_status_amount', table_name='board_row')
    op.add_column('board_row', sa.Column('montant_cents', sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        # One rewrite of the table, its indexes built again in bulk (an UPDATE of every row wrote an entry into each
        # of its indexes per row: 2.5 min at 100 000 pieces); no row-level security in the way (it is forced on
        # board_row: an UPDATE would need the system setting to see the rows).
        op.execute(f'ALTER TABLE board_row ALTER COLUMN montant_cents TYPE BIGINT USING {CENTS}, '
                   'ALTER COLUMN montant_cents SET NOT NULL')
    else:
        op.execute(f'UPDATE board_row SET montant_cents = {CENTS}')
        with op.batch_alter_table('board_row') as batch:
            batch.alter_column('montant_cents', existing_type=sa.BigInteger(), nullable=False)
    op.create_index('ix_board_row_amount', 'board_row', ['structure_id', 'montant_cents', 'piece_id'])
    op.create_index('ix_board_row_status_amount', 'board_row',
                    ['structure_id', 'status', 'montant_cents', 'piece_id'])


def downgrade():
    op.drop_index('ix_board_row_status_amount', table_name='board_row')
    op.drop_index('ix_board_row_amount', table_name='board_row')
    with op.batch_alter_table('board_row') as batch:
        batch.drop_column('montant_cents')
    op.create_index('ix_board_row_amount', 'board_row', ['structure_id', 'montant_ttc', 'piece_id'])
    op.create_index('ix_board_row_status_amount', 'board_row', ['structure_id', 'status', 'montant_ttc', 'piece_id'])
