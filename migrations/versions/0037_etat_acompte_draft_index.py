"""the MOE's états d'acompte in preparation read by their drafts (issue 20): `ix_etat_acompte_draft`.

The Tableau de bord's « États d'acompte en préparation » (`operations.dashboard.etats_by_marche`) now lists the MOE's
marchés with a draft état, at most what the panel shows; this partial index (marché) WHERE status = 'draft' gives each
marché's drafts without reading its history of états.

Revision ID: 7e1a4c6b8f53
Revises: 6d9f3b5a7e42
Create Date: 2026-12-07 00:35:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '7e1a4c6b8f53'
down_revision = '6d9f3b5a7e42'
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'draft'")


def upgrade():
    op.create_index('ix_etat_acompte_draft', 'etat_acompte', ['marche_id'], postgresql_where=WHERE,
                    sqlite_where=WHERE)


def downgrade():
    op.drop_index('ix_etat_acompte_draft', table_name='etat_acompte', postgresql_where=WHERE, sqlite_where=WHERE)
