"""board read model (issue 20): two entries fewer for every board row written.

A change of a piece's status rewrites each of its board rows (one per structure that sees it) as a new tuple, with an
entry in every index of board_row (no HOT update: the status is a column of six of them) — 28 874 such updates in
bench/deadline_sweep.py's 21 028 due deadlines at 100 000 pieces, each about 17 WAL records. Two of those entries
served a reader that another index, or a narrower one, serves as well:

- `ix_board_row_piece` (piece): refresh() reads and rewrites the rows of the pieces a transaction changed, for every
  structure. The primary key now holds the piece first, (piece, structure), and serves that range itself; a page's
  reads of its rows by (structure, piece) are both equalities, which either order serves. One full index fewer.
- `ix_board_row_emitted` (emitter, structure, deposit, piece) for the payment tracker: now partial, on the emitter's
  own deposited rows (`reason = 'emitter' AND deposited_at IS NOT NULL`: the tracker's rows, which it names with the
  same constants). The other viewers' rows — 72 % of board_row, 77 % of the sweep's updates — hold no entry of it.

On a live database, without blocking the writes (outside a transaction), then stamp this revision:

    CREATE UNIQUE INDEX CONCURRENTLY pk_board_row_0044 ON board_row (piece_id, structure_id);
    CREATE INDEX CONCURRENTLY ix_board_row_emitted_0044 ON board_row
        (emitter_structure_id, structure_id, deposited_at, piece_id)
        WHERE reason = 'emitter' AND deposited_at IS NOT NULL;
    BEGIN;
    ALTER TABLE board_row DROP CONSTRAINT pk_board_row;
    ALTER TABLE board_row ADD CONSTRAINT pk_board_row PRIMARY KEY USING INDEX pk_board_row_0044;
    DROP INDEX ix_board_row_emitted;
    ALTER INDEX ix_board_row_emitted_0044 RENAME TO ix_board_row_emitted;
    COMMIT;
    DROP INDEX CONCURRENTLY ix_board_row_piece;
    -- then: flask db stamp <this revision>

(a CONCURRENTLY build that fails leaves an INVALID index: drop it and build it again).

Revision ID: 3e7b1d9c4a60
Revises: 5256240e78f6
Create Date: 2026-12-07 22:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '3e7b1d9c4a60'
down_revision = '5256240e78f6'
branch_labels = None
depends_on = None

EMITTED_COLUMNS = ['emitter_structure_id', 'structure_id', 'deposited_at', 'piece_id']
EMITTED = "reason = 'emitter' AND deposited_at IS NOT NULL"


def _primary_key(columns: list[str]) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('pk_board_row', 'board_row', type_='primary')
        op.create_primary_key('pk_board_row', 'board_row', columns)
    else:  # SQLite: the table is copied with its new key
        with op.batch_alter_table('board_row', recreate='always') as batch:
            batch.drop_constraint('pk_board_row', type_='primary')
            batch.create_primary_key('pk_board_row', columns)


def upgrade():
    op.drop_index('ix_board_row_piece', table_name='board_row')
    op.drop_index('ix_board_row_emitted', table_name='board_row')
    _primary_key(['piece_id', 'structure_id'])
    op.create_index('ix_board_row_emitted', 'board_row', EMITTED_COLUMNS,
                    postgresql_where=sa.text(EMITTED), sqlite_where=sa.text(EMITTED))


def downgrade():
    op.drop_index('ix_board_row_emitted', table_name='board_row')
    _primary_key(['structure_id', 'piece_id'])
    op.create_index('ix_board_row_emitted', 'board_row', EMITTED_COLUMNS)
    op.create_index('ix_board_row_piece', 'board_row', ['piece_id'])
