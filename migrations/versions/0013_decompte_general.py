"""the décompte général as documents: the MOE's PDG (A17), the MOA's DG (A20) with the titulaire's signature
deadline, the signature with or without reservations (mémoire en réclamation, amount in dispute) and the DGD (A8)
(issue 12, end of contract)

Revision ID: d9e1f3a5c013
Revises: 7a13e0c55e10
Create Date: 2026-12-06 05:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'd9e1f3a5c013'
down_revision = '7a13e0c55e10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('decompte_general',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('marche_id', sa.Integer(), nullable=False),
    sa.Column('etat_acompte_id', sa.Integer(), nullable=False),
    sa.Column('pdg_piece_id', sa.Integer(), nullable=False),
    sa.Column('pdg_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pdg_by_id', sa.Integer(), nullable=False),
    sa.Column('dg_piece_id', sa.Integer(), nullable=True),
    sa.Column('dg_notified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dg_by_id', sa.Integer(), nullable=True),
    sa.Column('signature_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signature', sa.String(length=15), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('dgd_piece_id', sa.Integer(), nullable=True),
    sa.Column('reservations', sa.String(length=4000), nullable=True),
    sa.Column('claimed_amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('memoire_file_id', sa.Integer(), nullable=True),
    sa.Column('dispute_status', sa.String(length=10), nullable=True),
    sa.CheckConstraint("signature IS NULL OR signature IN ('sans_reserve', 'avec_reserves', 'tacite')",
                       name=op.f('ck_decompte_general_signature')),
    sa.CheckConstraint("dispute_status IS NULL OR dispute_status IN ('open')",
                       name=op.f('ck_decompte_general_dispute_status')),
    sa.CheckConstraint("COALESCE(signature, '') = 'avec_reserves' OR (reservations IS NULL AND claimed_amount IS NULL"
                       " AND dispute_status IS NULL)", name=op.f('ck_decompte_general_no_reservations')),
    sa.CheckConstraint("COALESCE(signature, '') <> 'avec_reserves' OR (reservations IS NOT NULL AND claimed_amount "
                       "IS NOT NULL)", name=op.f('ck_decompte_general_reservations')),
    sa.CheckConstraint('claimed_amount IS NULL OR claimed_amount > 0',
                       name=op.f('ck_decompte_general_claimed_amount')),
    sa.ForeignKeyConstraint(['marche_id'], ['marche.id'], name=op.f('fk_decompte_general_marche_id_marche')),
    sa.ForeignKeyConstraint(['etat_acompte_id'], ['etat_acompte.id'],
                            name=op.f('fk_decompte_general_etat_acompte_id_etat_acompte')),
    sa.ForeignKeyConstraint(['pdg_piece_id'], ['piece.id'], name=op.f('fk_decompte_general_pdg_piece_id_piece')),
    sa.ForeignKeyConstraint(['pdg_by_id'], ['account.id'], name=op.f('fk_decompte_general_pdg_by_id_account')),
    sa.ForeignKeyConstraint(['dg_piece_id'], ['piece.id'], name=op.f('fk_decompte_general_dg_piece_id_piece')),
    sa.ForeignKeyConstraint(['dg_by_id'], ['account.id'], name=op.f('fk_decompte_general_dg_by_id_account')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['account.id'],
                            name=op.f('fk_decompte_general_signed_by_id_account')),
    sa.ForeignKeyConstraint(['dgd_piece_id'], ['piece.id'], name=op.f('fk_decompte_general_dgd_piece_id_piece')),
    sa.ForeignKeyConstraint(['memoire_file_id'], ['piece_file.id'],
                            name=op.f('fk_decompte_general_memoire_file_id_piece_file')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decompte_general')),
    sa.UniqueConstraint('etat_acompte_id', name=op.f('uq_decompte_general_etat_acompte_id'))
    )
    with op.batch_alter_table('decompte_general', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_decompte_general_marche_id'), ['marche_id'], unique=False)


def downgrade():
    op.drop_table('decompte_general')
