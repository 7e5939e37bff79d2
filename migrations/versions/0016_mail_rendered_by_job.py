"""e-mails rendered by their job: the row keeps the template and its context (plain values), the subject and body
are written by the job before it sends (none while queued)

Revision ID: 3e5f7a9b1c13
Revises: d4e6f8a01324
Create Date: 2026-12-06 05:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3e5f7a9b1c13'
down_revision = 'd4e6f8a01324'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('context', sa.JSON(), nullable=True))
        batch_op.alter_column('subject', existing_type=sa.String(length=200), nullable=True)
        batch_op.alter_column('body', existing_type=sa.Text(), nullable=True)


def downgrade():
    op.execute("UPDATE mail_message SET subject = '' WHERE subject IS NULL")
    op.execute("UPDATE mail_message SET body = '' WHERE body IS NULL")
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.alter_column('body', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('subject', existing_type=sa.String(length=200), nullable=False)
        batch_op.drop_column('context')
        batch_op.drop_column('template')
