"""the overview of one cadre read from its own rollup (issue 20): `board_cadre_marche_count`, board_count's deltas
summed per (structure, cadre, status, works, marché).

The Tableau de bord filtered on a cadre (« A10 », or the private invoices) summed every bucket of board_count of the
structure to keep that cadre's: board_count's index holds the cadre fourth, after the marché and the party (1 559
rows for the titulaire at 100 000 pieces, 15 000 to 22 000 for the busiest at a million). The cadre leads this
rollup's index: one cadre is a range of the structure's rows, one per status and marché with pieces in it (328 for
the titulaire's « A10 » at 100 000). Kept as the rollups of 0033 and 0034 (refresh, compact, `flask board recompute
--check`); row-level security the same indexed equality on the structure; filled from board_count's sums under the
system access, as 0034.

Revision ID: 9a3c5e7f1b26
Revises: 8f2b5d7c9a14
Create Date: 2026-12-07 06:10:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '9a3c5e7f1b26'
down_revision = '8f2b5d7c9a14'
branch_labels = None
depends_on = None

TENANT_ONLY = ("structure_id = NULLIF(current_setting('chorus.structure_id', true), '')::integer "
               "OR current_setting('chorus.system', true) = 'on'")
MONEY = sa.Numeric(precision=14, scale=2)
TABLE = "board_cadre_marche_count"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    op.create_table(TABLE,
                    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('structure_id', sa.Integer(), nullable=False),
                    sa.Column('cadre', sa.String(length=3), nullable=False),
                    sa.Column('status', sa.String(length=50), nullable=False),
                    sa.Column('works', sa.Boolean(), nullable=False),
                    sa.Column('marche_id', sa.Integer(), nullable=False),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.Column('signed_ttc', MONEY, nullable=False),
                    sa.Column('paid', MONEY, nullable=False),
                    sa.Column('under_way', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_cadre_marche_count')))
    op.create_index('ix_board_cadre_marche_count_key', TABLE, ['structure_id', 'cadre', 'status', 'works', 'marche_id'])
    if _postgresql():
        op.execute(f"ALTER TABLE {TABLE} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {TABLE}_tenant ON {TABLE} FOR ALL USING ({TENANT_ONLY}) WITH CHECK ({TENANT_ONLY})")
        op.execute("SELECT set_config('chorus.system', 'on', true)")
    op.execute(f"INSERT INTO {TABLE} (structure_id, cadre, status, works, marche_id, n, signed_ttc, paid, under_way) "
               "SELECT structure_id, cadre, status, works, marche_id, sum(n), sum(signed_ttc), sum(paid), "
               "sum(under_way) FROM board_count GROUP BY structure_id, cadre, status, works, marche_id "
               "HAVING sum(n) <> 0 OR sum(signed_ttc) <> 0 OR sum(paid) <> 0 OR sum(under_way) <> 0")
    if _postgresql():
        op.execute("SELECT set_config('chorus.system', '', true)")
        # Statistics now: unanalyzed, the cadre overview is planned as a probe per group (8 379 buffers instead of
        # about 50 for the benchmark's titulaire at 1 000 000 pieces) until autovacuum comes by.
        op.execute(f"ANALYZE {TABLE}")


def downgrade():
    op.drop_table(TABLE)
