"""modifications of a marché (avenants): date, amount HT (+/−), the part and the price lines they change, the lines
they add to the bordereau, and the DC4 avenant of a sous-traitant's part changed with them (issue 16)

Revision ID: 7c9e1a3b5d19
Revises: 6b8d0f2a4c18
Create Date: 2026-12-06 11:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c9e1a3b5d19'
down_revision = '6b8d0f2a4c18'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('marche_avenant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('marche_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('signed_on', sa.Date(), nullable=False),
    sa.Column('amount_ht', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=True),
    sa.Column('objet', sa.String(length=500), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('dc4_avenant_id', sa.Integer(), nullable=True),
    sa.Column('montant_before_ht', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('montant_after_ht', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_ht <> 0', name=op.f('ck_marche_avenant_amount_ht')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_marche_avenant_number')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_marche_avenant_account_id_account')),
    sa.ForeignKeyConstraint(['dc4_avenant_id'], ['dc4_avenant.id'],
                            name=op.f('fk_marche_avenant_dc4_avenant_id_dc4_avenant')),
    sa.ForeignKeyConstraint(['marche_id'], ['marche.id'], name=op.f('fk_marche_avenant_marche_id_marche')),
    sa.ForeignKeyConstraint(['party_id'], ['marche_party.id'], name=op.f('fk_marche_avenant_party_id_marche_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_marche_avenant')),
    sa.UniqueConstraint('marche_id', 'number', name='marche_number')
    )
    with op.batch_alter_table('marche_avenant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_marche_avenant_marche_id'), ['marche_id'], unique=False)
    with op.batch_alter_table('price_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('avenant_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_price_line_avenant_id_marche_avenant'), 'marche_avenant',
                                    ['avenant_id'], ['id'])


def downgrade():
    with op.batch_alter_table('price_line', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_price_line_avenant_id_marche_avenant'), type_='foreignkey')
        batch_op.drop_column('avenant_id')
    with op.batch_alter_table('marche_avenant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_marche_avenant_marche_id'))
    op.drop_table('marche_avenant')
