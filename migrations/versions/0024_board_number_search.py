"""the Tableau de bord's number search served by an index (issue 20): a trigram GIN index on board_row's
(structure_id, number_key), so that « contains » (what users type: the number, its end, its start — three characters
or more) reads the matching rows of the structure, not every row of it.

PostgreSQL: the trusted extensions pg_trgm (trigram operator class) and btree_gin (the structure's equality in the same
GIN index), created by the database's owner. SQLite (the embedded default): a plain index on the same columns, so
that the models and the migrations describe the same schema.

Revision ID: 5b7d9f1a3c24
Revises: 8d2f4a6c1e07
Create Date: 2026-12-06 14:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '5b7d9f1a3c24'
down_revision = '8d2f4a6c1e07'
branch_labels = None
depends_on = None

NAME = "ix_board_row_number_search"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        op.execute(f"CREATE INDEX {NAME} ON board_row USING gin (structure_id, number_key gin_trgm_ops)")
    else:
        op.create_index(NAME, "board_row", ["structure_id", "number_key"])


def downgrade():
    op.drop_index(NAME, table_name="board_row")
