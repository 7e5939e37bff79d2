"""trésorerie: the expected day of each receipt a structure was told about (the reference a slip of more than a week
is announced from, once), and the notification kind « receipt_slip »

Revision ID: 9d1f3b5c7e20
Revises: 8b2d4f6a1c18
Create Date: 2026-12-06 11:20:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d1f3b5c7e20'
down_revision = '8b2d4f6a1c18'
branch_labels = None
depends_on = None

BEFORE = "('piece_to_act', 'piece_status', 'deadline_reminder', 'deadline_expired')"
AFTER = "('piece_to_act', 'piece_status', 'deadline_reminder', 'deadline_expired', 'receipt_slip')"


def _kinds(allowed: str) -> None:
    for table in ("notification", "notification_preference"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_kind"), type_="check")
            batch_op.create_check_constraint(op.f(f"ck_{table}_kind"), sa.text(f"kind IN {allowed}"))


def upgrade():
    op.create_table('expected_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('structure_id', sa.Integer(), nullable=False),
    sa.Column('flow_key', sa.String(length=60), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('expected_on', sa.Date(), nullable=False),
    sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['structure_id'], ['structure.id'], name=op.f('fk_expected_receipt_structure_id_structure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expected_receipt')),
    sa.UniqueConstraint('structure_id', 'flow_key', name='uq_expected_receipt_structure_flow')
    )
    with op.batch_alter_table('expected_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_expected_receipt_structure_id'), ['structure_id'], unique=False)
    _kinds(AFTER)


def downgrade():
    op.execute("DELETE FROM notification WHERE kind = 'receipt_slip'")
    op.execute("DELETE FROM notification_preference WHERE kind = 'receipt_slip'")
    _kinds(BEFORE)
    with op.batch_alter_table('expected_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_expected_receipt_structure_id'))
    op.drop_table('expected_receipt')
