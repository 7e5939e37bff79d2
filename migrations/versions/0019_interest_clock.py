"""late-payment interest paid within 45 days (R2192-36): the INTERETS clock of a late payment (`deadline.kind`
'interets_moratoires', tied to its `line_payment`), and the day the buyer paid the interest and the flat fee

Revision ID: 8b2d4f6a1c18
Revises: 6b8d0f2a4e18
Create Date: 2026-12-06 11:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '8b2d4f6a1c18'
down_revision = '6b8d0f2a4e18'
branch_labels = None
depends_on = None

KINDS_BEFORE = ("'validation_1', 'validation_2', 'moe', 'paiement', 'dc4_acceptance', 'contest_moe_corrections', "
                "'tacit_dgd', 'dg_signature'")
# Written out (not imported from the models): a migration keeps saying what it did when the code moves on.
KINDS_AFTER = ("'validation_1', 'validation_2', 'moe', 'paiement', 'dc4_acceptance', 'contest_moe_corrections', "
               "'tacit_dgd', 'dg_signature', 'interets_moratoires'")
OPEN_BEFORE = 'done_at IS NULL AND piece_id IS NOT NULL'
OPEN_AFTER = 'done_at IS NULL AND piece_id IS NOT NULL AND line_payment_id IS NULL'


def upgrade():
    with op.batch_alter_table('line_payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('interest_paid_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('interest_paid_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('interest_paid_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_line_payment_interest_paid_by_id_account'), 'account',
                                    ['interest_paid_by_id'], ['id'])
        batch_op.create_check_constraint(
            batch_op.f('ck_line_payment_interest_paid'),
            sa.text('interest_paid_on IS NULL OR (interest + flat_fee > 0 AND interest_paid_on >= paid_on)'))

    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_payment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_deadline_line_payment_id_line_payment'), 'line_payment',
                                    ['line_payment_id'], ['id'])
        batch_op.drop_index('ux_deadline_open_piece_kind')
        batch_op.create_index('ux_deadline_open_piece_kind', ['piece_id', 'kind'], unique=True,
                              postgresql_where=sa.text(OPEN_AFTER), sqlite_where=sa.text(OPEN_AFTER))
        batch_op.create_index('ux_deadline_line_payment', ['line_payment_id'], unique=True,
                              postgresql_where=sa.text('line_payment_id IS NOT NULL'),
                              sqlite_where=sa.text('line_payment_id IS NOT NULL'))
        batch_op.drop_constraint(batch_op.f('ck_deadline_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_deadline_kind'), sa.text(f"kind IN ({KINDS_AFTER})"))


def downgrade():
    op.execute("DELETE FROM deadline WHERE kind = 'interets_moratoires'")
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_deadline_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_deadline_kind'), sa.text(f"kind IN ({KINDS_BEFORE})"))
        batch_op.drop_index('ux_deadline_line_payment')
        batch_op.drop_index('ux_deadline_open_piece_kind')
        batch_op.create_index('ux_deadline_open_piece_kind', ['piece_id', 'kind'], unique=True,
                              postgresql_where=sa.text(OPEN_BEFORE), sqlite_where=sa.text(OPEN_BEFORE))
        batch_op.drop_constraint(batch_op.f('fk_deadline_line_payment_id_line_payment'), type_='foreignkey')
        batch_op.drop_column('line_payment_id')

    with op.batch_alter_table('line_payment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_line_payment_interest_paid'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_line_payment_interest_paid_by_id_account'), type_='foreignkey')
        batch_op.drop_column('interest_paid_at')
        batch_op.drop_column('interest_paid_by_id')
        batch_op.drop_column('interest_paid_on')
