"""The migrations and the models describe the same schema: the tests run on the migrated database, so a model
change without its migration must fail here, not in production."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from chorus_chain.extensions import db
from chorus_chain.models import Base


def test_models_and_migrations_agree(app):
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from the migrations: {diff}"
