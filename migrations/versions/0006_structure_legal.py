"""structure legal identity: the legal form, share capital and registration (RCS / RM) a company prints on its
invoices (C. com. R. 123-237; CGI annexe II art. 242 nonies A); all three nullable, a public body has none

Revision ID: 9f3a5b7c1d06
Revises: 8e2f4a6b0c05
Create Date: 2026-11-28 21:28:34.512971

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9f3a5b7c1d06'
down_revision = '8e2f4a6b0c05'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_form', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('share_capital', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('registration', sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table('structure', schema=None) as batch_op:
        batch_op.drop_column('registration')
        batch_op.drop_column('share_capital')
        batch_op.drop_column('legal_form')
