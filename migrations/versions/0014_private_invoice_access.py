"""a private invoice (no cadre: a sous-traitant without paiement direct to its contractor) is seen by its two parties
only: the access rows the contractors further up were given (reason "contractor_above") go, with any notification
they had about it (graph.visible_structures no longer writes them)

Revision ID: c3d5e7f90213
Revises: d9e1f3a5c013
Create Date: 2026-12-06 05:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c3d5e7f90213'
down_revision = 'd9e1f3a5c013'
branch_labels = None
depends_on = None

_ABOVE = ("SELECT a.piece_id, a.structure_id FROM piece_access a JOIN piece p ON p.id = a.piece_id "
          "WHERE p.cadre IS NULL AND a.reason = 'contractor_above'")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        # Row-level security is FORCEd on these tables (0003): this is system work, for every tenant.
        op.execute("SELECT set_config('chorus.system', 'on', true)")
    op.execute(f"DELETE FROM notification WHERE piece_id IS NOT NULL AND EXISTS (SELECT 1 FROM ({_ABOVE}) above "
               "WHERE above.piece_id = notification.piece_id AND above.structure_id = notification.structure_id)")
    op.execute("DELETE FROM piece_access WHERE reason = 'contractor_above' "
               "AND piece_id IN (SELECT id FROM piece WHERE cadre IS NULL)")


def downgrade():
    # The rows are not given back: a downgrade must not reopen a private invoice to a third party.
    pass
