"""login sessions held server side: logout revokes the session cookie and the « remember me » cookie at once;
an invitation's secret link kept as a hash with its expiry (an invitation is no longer matched by SIRET alone)

Revision ID: 7a13e0c55e10
Revises: b2c4d6e8f011
Create Date: 2026-12-06 02:25:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a13e0c55e10'
down_revision = 'b2c4d6e8f011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_login_session_account_id_account'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_login_session_secret_hash'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_account_id'), ['account_id'], unique=False)
    op.create_table('structure_contest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('structure_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'upheld', 'rejected')", name=op.f('ck_structure_contest_status')),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], name=op.f('fk_structure_contest_account_id_account')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['account.id'],
                            name=op.f('fk_structure_contest_decided_by_id_account')),
    sa.ForeignKeyConstraint(['structure_id'], ['structure.id'],
                            name=op.f('fk_structure_contest_structure_id_structure')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_structure_contest'))
    )
    with op.batch_alter_table('structure_contest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_structure_contest_structure_id'), ['structure_id'], unique=False)
    with op.batch_alter_table('marche_party', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invitation_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('invitation_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_marche_party_invitation_hash'), ['invitation_hash'])


def downgrade():
    with op.batch_alter_table('marche_party', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_marche_party_invitation_hash'), type_='unique')
        batch_op.drop_column('invitation_expires_at')
        batch_op.drop_column('invitation_hash')
    with op.batch_alter_table('structure_contest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_structure_contest_structure_id'))
    op.drop_table('structure_contest')
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_account_id'))
    op.drop_table('login_session')
