"""the payment term a sous-traitant agreed with its contractor for its private invoices (C. com. L. 441-10 I: at
most 60 days from the invoice's date, or 45 days end of month; nothing agreed: 30 days) — issue 15

Revision ID: 2d6f8b0a4e25
Revises: 4e8a2c6f1b37
Create Date: 2026-12-06 14:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2d6f8b0a4e25'
down_revision = '4e8a2c6f1b37'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('marche_party', schema=None) as batch_op:
        batch_op.add_column(sa.Column('commercial_term_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('commercial_term_end_of_month', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.create_check_constraint(
            'commercial_term',
            'commercial_term_days IS NULL OR (commercial_term_days BETWEEN 1 AND 60 AND '
            '(NOT commercial_term_end_of_month OR commercial_term_days <= 45))')


def downgrade():
    with op.batch_alter_table('marche_party', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_marche_party_commercial_term'), type_='check')
        batch_op.drop_column('commercial_term_end_of_month')
        batch_op.drop_column('commercial_term_days')
