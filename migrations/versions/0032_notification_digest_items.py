"""the deadline sweep's in-app digests (issue 20): `notification.items`.

A batch of the sweep writes one in-app notification per account, structure and kind when it concerns several pieces
(`operations.bell_digest`), naming them: each piece's own line and link, in this column (None for a notification
about one piece). Nullable, no default: adding it rewrites nothing.

Revision ID: 5c2e8f4a1d93
Revises: 3e6a9d1c7b20
Create Date: 2026-12-06 23:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '5c2e8f4a1d93'
down_revision = '3e6a9d1c7b20'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('notification', sa.Column('items', sa.JSON(), nullable=True))


def downgrade():
    op.drop_column('notification', 'items')
