"""Flask extensions, created unbound and initialised in create_app()."""
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from chorus_chain.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def tune_postgresql(app) -> None:
    """Session settings of every PostgreSQL connection of the app, set once when the pool opens it.

    `jit = off`: the row-level security policies make PostgreSQL over-estimate our short queries, so its JIT compiler
    kicks in and spends more time compiling than the query runs (measured by bench/dashboards.py on 100 000 pieces:
    917 ms of JIT for a 460 ms count). JIT pays on long analytical queries, which this application never runs.
    `PG_JIT=on` in the environment keeps PostgreSQL's default.

    `plan_cache_mode = force_custom_plan`: the connections keep their prepared statements across pages
    (`read_requests`), and after five runs PostgreSQL may switch a prepared statement to a generic plan, one plan
    for every structure. The structures are skewed (a maître d'œuvre sees a quarter of a region's pieces, a
    sous-traitant a few hundred): at 1 000 000 pieces the generic plans took the Tableau de bord from 0.12 to 0.08 of
    /healthz's throughput and its status filter from 0.11 to 0.04 (bench/dashboards.py, same run). A custom plan
    per execution still saves the parsing; the Synthèse keeps its gain."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        return
    settings = ["SET plan_cache_mode = force_custom_plan"]
    if not app.config.get("PG_JIT"):
        settings.append("SET jit = off")

    from chorus_chain import plan_cache

    plan_cache.install(engine)  # the statements marked to keep custom plans run unprepared

    @event.listens_for(engine, "connect")
    def _settings(dbapi_connection, connection_record) -> None:
        with dbapi_connection.cursor() as cursor:
            for setting in settings:
                cursor.execute(setting)
        dbapi_connection.commit()
