"""« Montants par entreprise »'s read model (issue 20): `board_money_line` (a line per company under a structure's
party, its figures and its rank, indexed in the panel's order), `board_money_total` (its structure's totals) and
`board_money_delta` (what each transaction adds, insert-only, folded into the lines by the compaction).

The titulaire's panel ranked every company under its parties to show eight: at a million pieces 860 companies and
3 156 rows of board_party_count per Tableau de bord. With these, it reads the first lines of an index and one row of
totals (`operations.board.money`).

The lines are filled from the parties (`money.members`) and board_party_count's sums (whatever it holds: the lines
then agree with it), the totals from the lines; no delta is pending. PostgreSQL: row-level security ENABLEd and
FORCEd, one policy each, the indexed equality on the structure of 0023, and the fill under the system setting of
`chorus_chain.access.system_access` (as 0033).

New tables only, nothing of board_row: on a live database the migration runs as it is (the fill reads the
companies' rollup once: 33 s for the three tables at a million pieces would be an upper bound; writers of the
pieces meanwhile add deltas to board_party_count that the lines would miss — run it with the application stopped,
or run `flask board recompute` after it, which corrects the lines).

Revision ID: 7d3a9c1e5b42
Revises: 0b4d7e2a6c31
Create Date: 2026-12-07 18:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '7d3a9c1e5b42'
down_revision = '0b4d7e2a6c31'
branch_labels = None
depends_on = None

TENANT_ONLY = ("structure_id = NULLIF(current_setting('chorus.structure_id', true), '')::integer "
               "OR current_setting('chorus.system', true) = 'on'")
MONEY = sa.Numeric(precision=14, scale=2)
TABLES = ("board_money_delta", "board_money_line", "board_money_total")
# money.CEILING_WARNING and money.PANEL_ROLES, as they stand at this revision.
CEILING_WARNING = "0.90"
PANEL_ROLES = "('sous_traitant', 'cotraitant')"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    op.create_table('board_money_delta',
                    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('structure_id', sa.Integer(), nullable=False),
                    sa.Column('emitter_party_id', sa.Integer(), nullable=False),
                    sa.Column('sent_ttc', MONEY, nullable=False),
                    sa.Column('validated_ttc', MONEY, nullable=False),
                    sa.Column('paid', MONEY, nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_money_delta')))
    op.create_index('ix_board_money_delta_structure', 'board_money_delta', ['structure_id', 'emitter_party_id'])
    op.create_table('board_money_line',
                    sa.Column('structure_id', sa.Integer(), nullable=False),
                    sa.Column('party_id', sa.Integer(), nullable=False),
                    sa.Column('marche_id', sa.Integer(), nullable=False),
                    sa.Column('reference', sa.String(length=100), nullable=False),
                    sa.Column('name', sa.String(length=200), nullable=False),
                    sa.Column('role', sa.String(length=15), nullable=False),
                    sa.Column('accepted', MONEY, nullable=True),
                    sa.Column('invoiced', MONEY, nullable=False),
                    sa.Column('validated', MONEY, nullable=False),
                    sa.Column('paid', MONEY, nullable=False),
                    sa.Column('attention', sa.Integer(), nullable=False),
                    sa.Column('to_pay', MONEY, nullable=False),
                    sa.PrimaryKeyConstraint('structure_id', 'party_id', name=op.f('pk_board_money_line')))
    op.create_index('ix_board_money_line_rank', 'board_money_line',
                    ['structure_id', 'attention', sa.text('to_pay DESC'), 'reference', 'name', 'party_id'])
    op.create_table('board_money_total',
                    sa.Column('structure_id', sa.Integer(), nullable=False),
                    sa.Column('lines', sa.Integer(), nullable=False),
                    sa.Column('invoiced', MONEY, nullable=False),
                    sa.Column('validated', MONEY, nullable=False),
                    sa.Column('paid', MONEY, nullable=False),
                    sa.PrimaryKeyConstraint('structure_id', name=op.f('pk_board_money_total')))
    if _postgresql():
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {table}_tenant ON {table} FOR ALL USING ({TENANT_ONLY}) "
                       f"WITH CHECK ({TENANT_ONLY})")
        op.execute("SELECT set_config('chorus.system', 'on', true)")
    op.execute(f"""
        INSERT INTO board_money_line (structure_id, party_id, marche_id, reference, name, role, accepted, invoiced,
                                      validated, paid, attention, to_pay)
        SELECT parent.structure_id, party.id, party.marche_id, marche.reference, party.name, party.role,
               party.montant_ttc, invoiced, validated, paid,
               CASE WHEN party.montant_ttc > 0 AND invoiced > party.montant_ttc THEN 0
                    WHEN party.montant_ttc > 0 AND invoiced >= party.montant_ttc * {CEILING_WARNING} THEN 1
                    ELSE 2 END,
               validated - paid
        FROM (SELECT parent.structure_id, party.id AS party_id,
                     COALESCE(SUM(counts.sent_ttc), 0) AS invoiced,
                     COALESCE(SUM(counts.validated_ttc), 0) AS validated,
                     COALESCE(SUM(counts.paid), 0) AS paid
              FROM marche_party AS party
              JOIN marche_party AS parent ON parent.id = party.parent_id
              LEFT JOIN board_party_count AS counts
                ON counts.structure_id = parent.structure_id AND counts.marche_id = party.marche_id
               AND counts.emitter_party_id = party.id
              WHERE party.status = 'confirmed' AND party.role IN {PANEL_ROLES} AND parent.status = 'confirmed'
                AND parent.structure_id IS NOT NULL
              GROUP BY parent.structure_id, party.id) AS summed
        JOIN marche_party AS party ON party.id = summed.party_id
        JOIN marche_party AS parent ON parent.id = party.parent_id
        JOIN marche ON marche.id = party.marche_id
    """)
    op.execute("INSERT INTO board_money_total (structure_id, lines, invoiced, validated, paid) "
               "SELECT structure_id, count(*), SUM(invoiced), SUM(validated), SUM(paid) FROM board_money_line "
               "GROUP BY structure_id")
    if _postgresql():
        op.execute("SELECT set_config('chorus.system', '', true)")


def downgrade():
    for table in reversed(TABLES):
        op.drop_table(table)
