"""the bell's unread notifications by an index in their order (issue 20): ix_notification_unread (account, structure,
created_at, id) WHERE read_at IS NULL, so that the Tableau de bord's panel reads the five newest unread notifications
backwards instead of every unread one of the account, sorted (946 rows for the busiest sous-traitant at 100 000
pieces; they pile up for an account that never opens them).

Revision ID: 6a8c0e2f4b37
Revises: 3f5a7c9e1b26
Create Date: 2026-12-06 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6a8c0e2f4b37'
down_revision = '3f5a7c9e1b26'
branch_labels = None
depends_on = None

UNREAD = "read_at IS NULL"


def upgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_unread', ['account_id', 'structure_id', 'created_at', 'id'],
                              unique=False, postgresql_where=sa.text(UNREAD), sqlite_where=sa.text(UNREAD))


def downgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_unread', postgresql_where=sa.text(UNREAD), sqlite_where=sa.text(UNREAD))
