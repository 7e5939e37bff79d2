"""board read model (issue 20): the interest panels of the Tableau de bord read through board_row.

- `interest_to_pay_clock_id` / `interest_to_pay_due` (the buyer's side: MOA, paying office) and
  `interest_owed_clock_id` / `interest_owed_due` (the companies owed it: the emitter, the titulaire): the piece's
  first clock (due, id) of the interest of a late payment still unpaid (`line_payment.interest_paid_on` unset,
  running or lapsed), on the rows of the structures playing one of the panel's parts (`operations.board.rows
  .CLOCK_PANELS`), else NULL; a partial index per panel (structure, due, clock, piece) where it is set.
  `interets.reading.unpaid_for` reads the first pieces of the structure's range, then their clocks — not every
  interest clock of the platform joined to the access rows and counted by a window.

Filled here on PostgreSQL (the pieces holding an unpaid interest clock: few), with the rule of `board.rows`;
`flask board recompute --check` reports no difference after it. On SQLite `flask board recompute` fills them.

Revision ID: 6d9f3b5a7e42
Revises: 5c8e2a4f6d31
Create Date: 2026-12-07 00:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '6d9f3b5a7e42'
down_revision = '5c8e2a4f6d31'
branch_labels = None
depends_on = None

# panel → the parts (access roles) whose rows carry its clock.
PANELS = {"interest_to_pay": ("moa", "paiement"), "interest_owed": ("emitter", "titulaire")}
BACKFILL = """
UPDATE board_row AS b SET {panel}_clock_id = first.id, {panel}_due = first.due_at
FROM (SELECT DISTINCT ON (d.piece_id) d.piece_id, d.id, d.due_at
      FROM deadline AS d JOIN line_payment AS lp ON lp.id = d.line_payment_id
      WHERE d.kind = 'interets_moratoires' AND lp.interest_paid_on IS NULL
      ORDER BY d.piece_id, d.due_at, d.id) AS first
WHERE b.piece_id = first.piece_id AND ({plays})
"""


def upgrade():
    with op.batch_alter_table('board_row', schema=None) as batch_op:
        for panel in PANELS:
            batch_op.add_column(sa.Column(f'{panel}_clock_id', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column(f'{panel}_due', sa.DateTime(timezone=True), nullable=True))
    # The indexes before the backfill (migration 0035 says why: pg_index.indcheckxmin).
    for panel in PANELS:
        where = sa.text(f'{panel}_clock_id IS NOT NULL')
        op.create_index(f'ix_board_row_{panel}_clock', 'board_row',
                        ['structure_id', f'{panel}_due', f'{panel}_clock_id', 'piece_id'],
                        postgresql_where=where, sqlite_where=where)
    if op.get_bind().dialect.name == 'postgresql':
        # Row-level security is forced on board_row and deadline's pieces: the backfill reads and writes every
        # structure's rows, as `flask board recompute` does (its system setting, for this transaction only).
        op.execute("SELECT set_config('chorus.system', 'on', true)")
        for panel, roles in PANELS.items():
            plays = " OR ".join(f"b.roles LIKE '% {role} %'" for role in roles)
            op.execute(BACKFILL.format(panel=panel, plays=plays))
        op.execute("SELECT set_config('chorus.system', 'off', true)")
        op.execute("ANALYZE board_row")


def downgrade():
    for panel in PANELS:
        where = sa.text(f'{panel}_clock_id IS NOT NULL')
        op.drop_index(f'ix_board_row_{panel}_clock', table_name='board_row', postgresql_where=where,
                      sqlite_where=where)
    with op.batch_alter_table('board_row', schema=None) as batch_op:
        for panel in reversed(list(PANELS)):
            batch_op.drop_column(f'{panel}_due')
            batch_op.drop_column(f'{panel}_clock_id')
