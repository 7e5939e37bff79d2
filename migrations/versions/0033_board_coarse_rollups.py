"""the Tableau de bord's coarser rollups (issue 20): `board_status_count` (« Par statut »), `board_marche_count`
(« Par marché »), `board_party_count` (the companies), each board_count's deltas summed along fewer dimensions.

The overview and the companies' panel and filter read them instead of every bucket of board_count of the structure
(2 029 rows for the busiest structure at 100 000 pieces, 19 000 to 41 000 at a million): rows bounded by the
statuses, the marchés, the companies shown. Kept as board_count is (insert-only deltas written by
`operations.board.refresh` in the transaction of each change, folded by `operations.board.compact`, checked by
`flask board recompute --check`).

PostgreSQL: row-level security ENABLEd and FORCEd, one policy each, the indexed equality on the structure of 0023.
The tables are filled from board_count's sums (whatever board_count holds, the new tables then agree with it), under
the system access of `chorus_chain.access.system_access` for this transaction's statements (board_count's policy
shows a role without it no row: the owner too, the security being forced).

Revision ID: 5c8e2b7d4f31
Revises: 5c2e8f4a1d93
Create Date: 2026-12-06 23:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '5c8e2b7d4f31'
down_revision = '5c2e8f4a1d93'
branch_labels = None
depends_on = None

TENANT_ONLY = ("structure_id = NULLIF(current_setting('chorus.structure_id', true), '')::integer "
               "OR current_setting('chorus.system', true) = 'on'")
# « Payé » on the companies' panel: the paid amounts of the pieces in these statuses (domain.statuses.PAID_STATUSES,
# as they stand at this revision).
PAID_STATUSES = "('MISE_EN_PAIEMENT', 'PAYEE_CONTRACTANT')"
MONEY = sa.Numeric(precision=14, scale=2)
# table → (key columns, measures as sums of board_count's columns)
ROLLUPS = {
    "board_status_count": (("structure_id", "works", "status"),
                           {"n": "sum(n)", "signed_ttc": "sum(signed_ttc)", "paid": "sum(paid)",
                            "under_way": "sum(under_way)"}),
    "board_marche_count": (("structure_id", "works", "marche_id"),
                           {"n": "sum(n)", "signed_ttc": "sum(signed_ttc)", "paid": "sum(paid)",
                            "under_way": "sum(under_way)"}),
    "board_party_count": (("structure_id", "marche_id", "emitter_party_id"),
                          {"n": "sum(n)", "sent_ttc": "sum(sent_ttc)", "validated_ttc": "sum(validated_ttc)",
                           "paid": f"sum(CASE WHEN status IN {PAID_STATUSES} THEN paid ELSE 0 END)"}),
}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _id():
    return sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False)


def upgrade():
    op.create_table('board_status_count', _id(),
                    sa.Column('structure_id', sa.Integer(), nullable=False),
                    sa.Column('works', sa.Boolean(), nullable=False),
                    sa.Column('status', sa.String(length=50), nullable=False),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.Column('signed_ttc', MONEY, nullable=False),
                    sa.Column('paid', MONEY, nullable=False),
                    sa.Column('under_way', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_status_count')))
    op.create_index('ix_board_status_count_key', 'board_status_count', ['structure_id', 'works', 'status'])
    op.create_table('board_marche_count', _id(),
                    sa.Column('structure_id', sa.Integer(), nullable=False),
                    sa.Column('works', sa.Boolean(), nullable=False),
                    sa.Column('marche_id', sa.Integer(), nullable=False),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.Column('signed_ttc', MONEY, nullable=False),
                    sa.Column('paid', MONEY, nullable=False),
                    sa.Column('under_way', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_marche_count')))
    op.create_index('ix_board_marche_count_key', 'board_marche_count', ['structure_id', 'works', 'marche_id'])
    op.create_table('board_party_count', _id(),
                    sa.Column('structure_id', sa.Integer(), nullable=False),
                    sa.Column('marche_id', sa.Integer(), nullable=False),
                    sa.Column('emitter_party_id', sa.Integer(), nullable=False),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.Column('sent_ttc', MONEY, nullable=False),
                    sa.Column('validated_ttc', MONEY, nullable=False),
                    sa.Column('paid', MONEY, nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_party_count')))
    op.create_index('ix_board_party_count_key', 'board_party_count',
                    ['structure_id', 'marche_id', 'emitter_party_id'])
    if _postgresql():
        for table in ROLLUPS:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {table}_tenant ON {table} FOR ALL USING ({TENANT_ONLY}) "
                       f"WITH CHECK ({TENANT_ONLY})")
        op.execute("SELECT set_config('chorus.system', 'on', true)")
    for table, (keys, measures) in ROLLUPS.items():
        key_list = ", ".join(keys)
        nonzero = " OR ".join(f"{expression} <> 0" for expression in measures.values())
        op.execute(f"INSERT INTO {table} ({key_list}, {', '.join(measures)}) "
                   f"SELECT {key_list}, {', '.join(measures.values())} FROM board_count "
                   f"GROUP BY {key_list} HAVING {nonzero}")
    if _postgresql():
        op.execute("SELECT set_config('chorus.system', '', true)")


def downgrade():
    for table in reversed(list(ROLLUPS)):
        op.drop_table(table)
