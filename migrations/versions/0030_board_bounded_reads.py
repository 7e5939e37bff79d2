"""the Tableau de bord's reads bounded by what it shows (issue 20): the number search as a prefix, the emitter filter,
the companies under a party.

- `ix_board_row_number_search` (trigram GIN, 0024) is dropped: under row-level security PostgreSQL never runs a
  condition that is not leakproof (LIKE, the trigram operators) inside an index before the policy's, so the index
  returned every row of the structure for the recheck to drop (3.8 s for the maître d'œuvre at 1 000 000 pieces).
  The search is now « starts with », a range of the (structure, number_key) index of the « numero » sort, whose
  comparisons are leakproof. One index fewer for every write of board_row.
- `ix_board_row_emitter` (structure, emitting party, sort date, piece): the « Entreprise émettrice » filter's list,
  newest first, reads the party's rows of the structure in order instead of the structure's date index filtered.
- `ix_marche_party_parent` (parent_id): « Montants par entreprise » reads the parties under the structure's own, not
  every party of the platform.

The extensions of 0024 (pg_trgm, btree_gin) stay: dropping an extension is the database owner's choice.

Revision ID: 7b1d3f5a9c42
Revises: 9d2b6f4a1c58
Create Date: 2026-12-06 20:40:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '7b1d3f5a9c42'
down_revision = '9d2b6f4a1c58'
branch_labels = None
depends_on = None

NUMBER_SEARCH = "ix_board_row_number_search"


def upgrade():
    op.drop_index(NUMBER_SEARCH, table_name="board_row")
    op.create_index("ix_board_row_emitter", "board_row", ["structure_id", "emitter_party_id", "sort_date", "piece_id"])
    op.create_index("ix_marche_party_parent", "marche_party", ["parent_id"])


def downgrade():
    op.drop_index("ix_marche_party_parent", table_name="marche_party")
    op.drop_index("ix_board_row_emitter", table_name="board_row")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX {NUMBER_SEARCH} ON board_row USING gin (structure_id, number_key gin_trgm_ops)")
    else:
        op.create_index(NUMBER_SEARCH, "board_row", ["structure_id", "number_key"])
