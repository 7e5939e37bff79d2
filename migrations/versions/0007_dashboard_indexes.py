"""dashboard index: a party's pieces

Measured by bench/dashboards.py on 100 000 pieces: the titulaire's view of its sous-traitants' money joined every
piece to find a party's (805 ms; 538 ms with this index).

Revision ID: a1b3c5d7e907
Revises: 9f3a5b7c1d06
Create Date: 2026-11-28 22:15:00

"""
from alembic import op


revision = 'a1b3c5d7e907'
down_revision = '9f3a5b7c1d06'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('piece', schema=None) as batch_op:
        batch_op.create_index('ix_piece_emitter_party', ['emitter_party_id'], unique=False)


def downgrade():
    with op.batch_alter_table('piece', schema=None) as batch_op:
        batch_op.drop_index('ix_piece_emitter_party')
