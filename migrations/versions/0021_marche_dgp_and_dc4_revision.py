"""a marché's buyer category, whose ceiling bounds its délai global de paiement (any number of days up to 30, 50 or
60, no longer only those three values); a sous-traitant's DC4 ceiling with or without price revision, as its acte
spécial says (issue 16)

Revision ID: 6b8d0f2a4c18
Revises: 9d1f3b5c7e20
Create Date: 2026-12-06 11:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6b8d0f2a4c18'
down_revision = '9d1f3b5c7e20'
branch_labels = None
depends_on = None

CEILINGS = {"etat": 30, "collectivite_territoriale": 30, "etablissement_public_de_sante": 50,
            "entreprise_publique": 60}
DGP_CHECK = "dgp_days >= 1 AND dgp_days <= CASE buyer_category " + " ".join(
    f"WHEN '{k}' THEN {v}" for k, v in CEILINGS.items()) + " END"


def upgrade():
    with op.batch_alter_table('marche', schema=None) as batch_op:
        batch_op.add_column(sa.Column('buyer_category', sa.String(length=30),
                                      server_default='collectivite_territoriale', nullable=False))
    # A marché created with 50 or 60 days was a hospital's or another buyer's: its category follows.
    op.execute("UPDATE marche SET buyer_category = 'etablissement_public_de_sante' WHERE dgp_days = 50")
    op.execute("UPDATE marche SET buyer_category = 'entreprise_publique' WHERE dgp_days = 60")
    with op.batch_alter_table('marche', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_marche_dgp_days'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_marche_buyer_category'), "buyer_category IN ("
                                         + ", ".join(f"'{k}'" for k in CEILINGS) + ")")
        batch_op.create_check_constraint(batch_op.f('ck_marche_dgp_days'), DGP_CHECK)
    with op.batch_alter_table('marche_party', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dc4_ceiling_includes_revision', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('marche_party', schema=None) as batch_op:
        batch_op.drop_column('dc4_ceiling_includes_revision')
    op.execute("UPDATE marche SET dgp_days = 30 WHERE dgp_days NOT IN (30, 50, 60)")
    with op.batch_alter_table('marche', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_marche_dgp_days'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_marche_buyer_category'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_marche_dgp_days'), "dgp_days IN (30, 50, 60)")
        batch_op.drop_column('buyer_category')
