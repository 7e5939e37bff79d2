"""assistant and live chat: conversations and their messages

`conversation` (a member of a structure with the assistant, then an agent: status, the operator who took it, the
page and piece it was opened from, the ticket it became) and `conversation_message` (the transcript; `failed`
marks the questions the assistant could not answer, for the operators' list).

Revision ID: b8c4d2e6f018
Revises: dcf5290124bc
Create Date: 2026-12-06 01:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b8c4d2e6f018'
down_revision = 'dcf5290124bc'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'conversation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('structure_id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('operator_id', sa.Integer(), nullable=True),
        sa.Column('page_url', sa.String(length=500), nullable=True),
        sa.Column('piece_id', sa.Integer(), nullable=True),
        sa.Column('piece_number', sa.String(length=20), nullable=True),
        sa.Column('ticket_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('taken_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('assistant', 'waiting', 'active', 'closed', 'ticket')",
                           name=op.f('ck_conversation_status')),
        sa.CheckConstraint("status NOT IN ('active') OR operator_id IS NOT NULL",
                           name=op.f('ck_conversation_active_has_operator')),
        sa.ForeignKeyConstraint(['structure_id'], ['structure.id'],
                                name=op.f('fk_conversation_structure_id_structure')),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_conversation_account_id_account')),
        sa.ForeignKeyConstraint(['operator_id'], ['account.id'], name=op.f('fk_conversation_operator_id_account')),
        sa.ForeignKeyConstraint(['piece_id'], ['piece.id'], name=op.f('fk_conversation_piece_id_piece')),
        sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_conversation_ticket_id_ticket')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation')),
    )
    op.create_index('ix_conversation_member', 'conversation', ['structure_id', 'account_id', 'id'])
    op.create_index('ix_conversation_status', 'conversation', ['status', 'handed_over_at'])
    op.create_table(
        'conversation_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=False),
        sa.Column('author', sa.String(length=10), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=True),
        sa.Column('links', sa.JSON(), nullable=True),
        sa.Column('failed', sa.Boolean(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("author IN ('user', 'assistant', 'operator', 'system')",
                           name=op.f('ck_conversation_message_author')),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'],
                                name=op.f('fk_conversation_message_conversation_id_conversation')),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'],
                                name=op.f('fk_conversation_message_account_id_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_message')),
    )
    op.create_index('ix_conversation_message_conversation', 'conversation_message', ['conversation_id', 'id'])
    op.create_index('ix_conversation_message_failed', 'conversation_message', ['failed', 'at'])


def downgrade():
    op.drop_index('ix_conversation_message_failed', table_name='conversation_message')
    op.drop_index('ix_conversation_message_conversation', table_name='conversation_message')
    op.drop_table('conversation_message')
    op.drop_index('ix_conversation_status', table_name='conversation')
    op.drop_index('ix_conversation_member', table_name='conversation')
    op.drop_table('conversation')
