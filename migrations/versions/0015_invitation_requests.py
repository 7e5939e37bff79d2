"""requests to answer an invitation from another account than the invited one, decided by the inviter

Revision ID: d4e6f8a01324
Revises: c3d5e7f90213
Create Date: 2026-12-06 05:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e6f8a01324'
down_revision = 'c3d5e7f90213'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invitation_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('inviter_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('structure_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'refused')", name=op.f('ck_invitation_request_status')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_invitation_request_account_id_account')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['account.id'],
                            name=op.f('fk_invitation_request_decided_by_id_account')),
    sa.ForeignKeyConstraint(['inviter_id'], ['structure.id'],
                            name=op.f('fk_invitation_request_inviter_id_structure')),
    sa.ForeignKeyConstraint(['party_id'], ['marche_party.id'],
                            name=op.f('fk_invitation_request_party_id_marche_party'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['structure_id'], ['structure.id'],
                            name=op.f('fk_invitation_request_structure_id_structure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_request'))
    )
    with op.batch_alter_table('invitation_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_request_party_id'), ['party_id'], unique=False)
        batch_op.create_index('ix_invitation_request_inviter_status', ['inviter_id', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('invitation_request', schema=None) as batch_op:
        batch_op.drop_index('ix_invitation_request_inviter_status')
        batch_op.drop_index(batch_op.f('ix_invitation_request_party_id'))
    op.drop_table('invitation_request')
