"""chorus-chain: the billing chain of a public-works marché, shared by all its companies."""
from __future__ import annotations

import logging



from chorus_chain import config as config_module
from chorus_chain.config import ROOT


def create_app(config: dict | None = None) -> "Flask":
    # Flask is imported here so that the pure layers (domain, graph) import without it.
    from flask import Flask

    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(config_module.load())
    if config:
        app.config.update(config)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("chorus_chain").setLevel(logging.INFO)

    from chorus_chain import access, extensions, models, read_requests  # noqa: F401  (models: one metadata for Alembic)

    access.install()  # the tenant's criteria on every ORM statement, and its settings on every PostgreSQL transaction
    from chorus_chain.operations import board

    board.install()  # the dashboards' read model refreshed in the transaction of each change (issue 20)
    read_requests.install()  # a request that wrote nothing ends with COMMIT: its prepared statements stay

    extensions.db.init_app(app)
    extensions.tune_postgresql(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(ROOT / "migrations"), render_as_batch=True)
    extensions.csrf.init_app(app)
    extensions.htmx.init_app(app)
    extensions.limiter.init_app(app)

    from chorus_chain import timing, web

    if timing.enabled(app):  # before the request hooks of web: its header is written after the commit
        timing.install(app)
    web.init_app(app)

    from chorus_chain.blueprints import register_blueprints

    register_blueprints(app)

    from chorus_chain import api

    api.init_app(app)

    from chorus_chain import cli

    cli.init_app(app)
    return app
