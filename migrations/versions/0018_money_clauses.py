"""money clauses: guarantees replacing the retenue per beneficiary and for an amount, a sous-traitant declining its
advance, the pace of the advance repayment (start, basis, fixed amounts by month)

Revision ID: 6b8d0f2a4e18
Revises: 5a7c9e1b3d17
Create Date: 2026-12-06 11:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6b8d0f2a4e18'
down_revision = '5a7c9e1b3d17'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('retenue_guarantee',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('marche_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('given_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('gapd', 'caution')", name=op.f('ck_retenue_guarantee_kind')),
    sa.CheckConstraint('amount IS NULL OR amount > 0', name=op.f('ck_retenue_guarantee_amount')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_retenue_guarantee_account_id_account')),
    sa.ForeignKeyConstraint(['marche_id'], ['marche.id'], name=op.f('fk_retenue_guarantee_marche_id_marche')),
    sa.ForeignKeyConstraint(['party_id'], ['marche_party.id'],
                            name=op.f('fk_retenue_guarantee_party_id_marche_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retenue_guarantee'))
    )
    with op.batch_alter_table('retenue_guarantee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retenue_guarantee_marche_id'), ['marche_id'], unique=False)

    op.create_table('avance_repayment_amount',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('marche_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_avance_repayment_amount_amount')),
    sa.CheckConstraint('length(month) = 7', name=op.f('ck_avance_repayment_amount_month')),
    sa.ForeignKeyConstraint(['marche_id'], ['marche.id'], name=op.f('fk_avance_repayment_amount_marche_id_marche')),
    sa.ForeignKeyConstraint(['party_id'], ['marche_party.id'],
                            name=op.f('fk_avance_repayment_amount_party_id_marche_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_avance_repayment_amount')),
    sa.UniqueConstraint('party_id', 'month', name='party_month')
    )
    with op.batch_alter_table('avance_repayment_amount', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_avance_repayment_amount_marche_id'), ['marche_id'], unique=False)

    with op.batch_alter_table('marche', schema=None) as batch_op:
        batch_op.add_column(sa.Column('avance_repayment_start', sa.Numeric(precision=5, scale=2),
                                      server_default='65.00', nullable=False))
        batch_op.add_column(sa.Column('avance_repayment_basis', sa.String(length=12), server_default='own_part',
                                      nullable=False))
        batch_op.create_check_constraint('avance_repayment_start',
                                         'avance_repayment_start >= 0 AND avance_repayment_start <= 65 '
                                         'AND avance_repayment_end > avance_repayment_start')
        batch_op.create_check_constraint('avance_repayment_basis',
                                         "avance_repayment_basis IN ('own_part', 'whole_marche')")

    with op.batch_alter_table('marche_party', schema=None) as batch_op:
        batch_op.add_column(sa.Column('avance_declined', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table('marche_party', schema=None) as batch_op:
        batch_op.drop_column('avance_declined')
    with op.batch_alter_table('marche', schema=None) as batch_op:
        batch_op.drop_constraint('ck_marche_avance_repayment_basis', type_='check')
        batch_op.drop_constraint('ck_marche_avance_repayment_start', type_='check')
        batch_op.drop_column('avance_repayment_basis')
        batch_op.drop_column('avance_repayment_start')
    with op.batch_alter_table('avance_repayment_amount', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_avance_repayment_amount_marche_id'))
    op.drop_table('avance_repayment_amount')
    with op.batch_alter_table('retenue_guarantee', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retenue_guarantee_marche_id'))
    op.drop_table('retenue_guarantee')
