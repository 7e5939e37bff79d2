"""état d'acompte as pieces: the A15 / A19 pieces of an état, its return and re-issue (« n° 4 bis »), the PDMs it
covers, the payable lines of a validated état and their payments (issue 12)

Revision ID: b2c4d6e8f011
Revises: b8c4d2e6f018
Create Date: 2026-12-06 01:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b2c4d6e8f011'
down_revision = 'b8c4d2e6f018'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('etat_acompte', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suffix', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('replaces_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('piece_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('validated_piece_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('validated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('validated_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('returned_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('return_reason', sa.String(length=1000), nullable=True))
        batch_op.drop_constraint('uq_etat_acompte_marche_number', type_='unique')
        batch_op.create_unique_constraint('uq_etat_acompte_marche_number_suffix', ['marche_id', 'number', 'suffix'])
        batch_op.drop_constraint(batch_op.f('ck_etat_acompte_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_etat_acompte_status'),
                                         "status IN ('draft', 'issued', 'returned')")
        batch_op.create_check_constraint(batch_op.f('ck_etat_acompte_suffix'), 'suffix >= 0 AND suffix < 10')
        batch_op.create_check_constraint(batch_op.f('ck_etat_acompte_return_reason'),
                                         "status = 'returned' OR return_reason IS NULL")
        batch_op.create_check_constraint(batch_op.f('ck_etat_acompte_returned_with_reason'),
                                         "status <> 'returned' OR return_reason IS NOT NULL")
        batch_op.create_foreign_key(batch_op.f('fk_etat_acompte_replaces_id_etat_acompte'), 'etat_acompte',
                                    ['replaces_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_etat_acompte_piece_id_piece'), 'piece', ['piece_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_etat_acompte_validated_piece_id_piece'), 'piece',
                                    ['validated_piece_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_etat_acompte_validated_by_id_account'), 'account',
                                    ['validated_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_etat_acompte_returned_by_id_account'), 'account',
                                    ['returned_by_id'], ['id'])
    with op.batch_alter_table('etat_acompte', schema=None) as batch_op:
        batch_op.alter_column('suffix', server_default=None)

    op.create_table('etat_acompte_pdm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('etat_acompte_id', sa.Integer(), nullable=False),
    sa.Column('piece_id', sa.Integer(), nullable=False),
    sa.Column('payee_party_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['etat_acompte_id'], ['etat_acompte.id'],
                            name=op.f('fk_etat_acompte_pdm_etat_acompte_id_etat_acompte')),
    sa.ForeignKeyConstraint(['piece_id'], ['piece.id'], name=op.f('fk_etat_acompte_pdm_piece_id_piece')),
    sa.ForeignKeyConstraint(['payee_party_id'], ['marche_party.id'],
                            name=op.f('fk_etat_acompte_pdm_payee_party_id_marche_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_etat_acompte_pdm')),
    sa.UniqueConstraint('etat_acompte_id', 'piece_id', name='uq_etat_acompte_pdm_etat_piece')
    )
    with op.batch_alter_table('etat_acompte_pdm', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_etat_acompte_pdm_etat_acompte_id'), ['etat_acompte_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_etat_acompte_pdm_piece_id'), ['piece_id'], unique=False)

    op.create_table('payable_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('etat_acompte_id', sa.Integer(), nullable=False),
    sa.Column('marche_id', sa.Integer(), nullable=False),
    sa.Column('payee_party_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=15), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('beneficiary_keys', sa.JSON(), nullable=False),
    sa.Column('bank_account_id', sa.Integer(), nullable=True),
    sa.Column('iban', sa.String(length=34), nullable=True),
    sa.Column('bic', sa.String(length=11), nullable=True),
    sa.Column('dgp_started_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('service_fait_on', sa.Date(), nullable=True),
    sa.Column('mandated_on', sa.Date(), nullable=True),
    sa.Column('paid_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('paid_amount >= 0', name=op.f('ck_payable_line_paid_amount')),
    sa.CheckConstraint('paid_amount <= CASE WHEN amount > 0 THEN amount ELSE 0 END',
                       name=op.f('ck_payable_line_not_over_line')),
    sa.ForeignKeyConstraint(['bank_account_id'], ['bank_account.id'],
                            name=op.f('fk_payable_line_bank_account_id_bank_account')),
    sa.ForeignKeyConstraint(['etat_acompte_id'], ['etat_acompte.id'],
                            name=op.f('fk_payable_line_etat_acompte_id_etat_acompte')),
    sa.ForeignKeyConstraint(['marche_id'], ['marche.id'], name=op.f('fk_payable_line_marche_id_marche')),
    sa.ForeignKeyConstraint(['payee_party_id'], ['marche_party.id'],
                            name=op.f('fk_payable_line_payee_party_id_marche_party')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payable_line')),
    sa.UniqueConstraint('etat_acompte_id', 'payee_party_id', name='uq_payable_line_etat_payee')
    )
    with op.batch_alter_table('payable_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payable_line_etat_acompte_id'), ['etat_acompte_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payable_line_marche_id'), ['marche_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payable_line_payee_party_id'), ['payee_party_id'], unique=False)

    op.create_table('line_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('days_late', sa.Integer(), nullable=False),
    sa.Column('rate_percent', sa.Numeric(precision=6, scale=3), nullable=True),
    sa.Column('interest', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('flat_fee', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('explanation', sa.JSON(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_line_payment_amount')),
    sa.CheckConstraint('interest >= 0 AND flat_fee >= 0', name=op.f('ck_line_payment_interest')),
    sa.ForeignKeyConstraint(['line_id'], ['payable_line.id'], name=op.f('fk_line_payment_line_id_payable_line')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['account.id'],
                            name=op.f('fk_line_payment_recorded_by_id_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_payment'))
    )
    with op.batch_alter_table('line_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_payment_line_id'), ['line_id'], unique=False)


def downgrade():
    op.drop_table('line_payment')
    op.drop_table('payable_line')
    op.drop_table('etat_acompte_pdm')
    with op.batch_alter_table('etat_acompte', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_etat_acompte_returned_by_id_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_etat_acompte_validated_by_id_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_etat_acompte_validated_piece_id_piece'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_etat_acompte_piece_id_piece'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_etat_acompte_replaces_id_etat_acompte'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('ck_etat_acompte_returned_with_reason'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_etat_acompte_return_reason'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_etat_acompte_suffix'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_etat_acompte_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_etat_acompte_status'), "status IN ('draft', 'issued')")
        batch_op.drop_constraint('uq_etat_acompte_marche_number_suffix', type_='unique')
        batch_op.create_unique_constraint('uq_etat_acompte_marche_number', ['marche_id', 'number'])
        for column in ('return_reason', 'returned_by_id', 'returned_at', 'validated_by_id', 'validated_at',
                       'validated_piece_id', 'piece_id', 'replaces_id', 'suffix'):
            batch_op.drop_column(column)
