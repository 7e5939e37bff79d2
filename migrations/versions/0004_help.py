"""help: support tickets and their messages

The help centre's articles and the contextual help texts are code (searched with a VALUES list), so only the
support tickets need tables: `ticket` (one structure, its author, the page and piece it was opened from, category,
status) and `ticket_message` (the thread, an optional attachment of at most 2 Mo kept in the row).

Revision ID: 7c1d3e5f9a04
Revises: 4b7e2c9a1f03
Create Date: 2026-11-28 19:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = '7c1d3e5f9a04'
down_revision = '4b7e2c9a1f03'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ticket',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('structure_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('page_url', sa.String(length=500), nullable=True),
        sa.Column('piece_id', sa.Integer(), nullable=True),
        sa.Column('category', sa.String(length=20), nullable=True),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'answered', 'closed')", name=op.f('ck_ticket_status')),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_ticket_account_id_account')),
        sa.ForeignKeyConstraint(['piece_id'], ['piece.id'], name=op.f('fk_ticket_piece_id_piece')),
        sa.ForeignKeyConstraint(['structure_id'], ['structure.id'], name=op.f('fk_ticket_structure_id_structure')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket')),
    )
    op.create_index(op.f('ix_ticket_structure_id'), 'ticket', ['structure_id'])
    op.create_index(op.f('ix_ticket_created_at'), 'ticket', ['created_at'])
    op.create_table(
        'ticket_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('from_operator', sa.Boolean(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('attachment_name', sa.String(length=200), nullable=True),
        sa.Column('attachment_data', sa.LargeBinary(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_ticket_message_account_id_account')),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_message_ticket_id_ticket')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_message')),
    )
    op.create_index(op.f('ix_ticket_message_ticket_id'), 'ticket_message', ['ticket_id'])


def downgrade():
    op.drop_index(op.f('ix_ticket_message_ticket_id'), table_name='ticket_message')
    op.drop_table('ticket_message')
    op.drop_index(op.f('ix_ticket_created_at'), table_name='ticket')
    op.drop_index(op.f('ix_ticket_structure_id'), table_name='ticket')
    op.drop_table('ticket')
