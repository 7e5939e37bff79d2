"""why a piece's accepted amount differs from the amount requested (partial validation, état d'acompte), stored by
the operation that decided it, so that every list explains its amounts from the row (domain.amount_why)

Revision ID: 4e8a2c6f1b37
Revises: 5b7d9f1a3c24
Create Date: 2026-12-06 14:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4e8a2c6f1b37'
down_revision = '5b7d9f1a3c24'
branch_labels = None
depends_on = None


def upgrade():
    # Pieces accepted before this column: no record, their page says the decision is in the history.
    with op.batch_alter_table('piece', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_why', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('piece', schema=None) as batch_op:
        batch_op.drop_column('accepted_why')
