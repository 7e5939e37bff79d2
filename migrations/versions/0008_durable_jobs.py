"""durable jobs: the outbox row is the truth until its job succeeded; documents count their tries; the clock's state

An outbox row handed to rq used to be final (`dispatched_at` set) whatever happened to its job. Rows now have a
status (pending → done, or failed after the last try), a lease, a backoff instant and their last error. Existing rows
whose effect is not there (an e-mail never sent, a document never rendered) are pending again: the bug lost them.

Revision ID: c4d5e6f7a808
Revises: a1b3c5d7e907
Create Date: 2026-12-06 01:40:00

"""
from alembic import op
import sqlalchemy as sa

from chorus_chain.models.base import UTCDateTime


revision = 'c4d5e6f7a808'
down_revision = 'a1b3c5d7e907'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('available_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('rq_job_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_outbox_job_pending')
        batch_op.create_check_constraint('status', "status IN ('pending', 'done', 'failed')")
    outbox = sa.table('outbox_job', sa.column('id', sa.Integer), sa.column('job', sa.String),
                      sa.column('payload', sa.JSON), sa.column('created_at', UTCDateTime()),
                      sa.column('status', sa.String), sa.column('available_at', UTCDateTime()),
                      sa.column('dispatched_at', UTCDateTime()), sa.column('finished_at', UTCDateTime()))
    connection = op.get_bind()
    sent = {row[0] for row in connection.execute(sa.text('SELECT id FROM mail_message WHERE sent_at IS NOT NULL'))}
    settled = {row[0] for row in connection.execute(
        sa.text("SELECT id FROM generated_document WHERE status IN ('done', 'failed')"))}
    for row in connection.execute(sa.select(outbox.c.id, outbox.c.job, outbox.c.payload, outbox.c.created_at,
                                            outbox.c.dispatched_at)).all():
        payload = row.payload or {}
        done = row.dispatched_at is not None and (
            (row.job == 'send_mail' and payload.get('mail_id') in sent)
            or (row.job == 'render_document' and payload.get('document_id') in settled))
        connection.execute(outbox.update().where(outbox.c.id == row.id).values(
            status='done' if done else 'pending', available_at=row.created_at,
            dispatched_at=row.dispatched_at if done else None, finished_at=row.dispatched_at if done else None))
    with op.batch_alter_table('outbox_job', schema=None) as batch_op:
        batch_op.alter_column('available_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index('ix_outbox_job_due', ['status', 'available_at'], unique=False)

    with op.batch_alter_table('generated_document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))

    op.create_table('clock_state',
                    sa.Column('name', sa.String(length=30), nullable=False),
                    sa.Column('swept_to', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('name', name=op.f('pk_clock_state')))


def downgrade():
    op.drop_table('clock_state')
    with op.batch_alter_table('generated_document', schema=None) as batch_op:
        batch_op.drop_column('attempts')
    with op.batch_alter_table('outbox_job', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_job_due')
        batch_op.drop_constraint('status', type_='check')
        for column in ('finished_at', 'last_error', 'rq_job_id', 'lease_until', 'available_at', 'attempts', 'status'):
            batch_op.drop_column(column)
        batch_op.create_index('ix_outbox_job_pending', ['dispatched_at', 'id'], unique=False)
