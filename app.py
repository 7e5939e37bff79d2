"""WSGI entry point: `gunicorn app:app`, `flask --app app run`."""
import gc

from chorus_chain import create_app

app = create_app()

# What the process keeps for its whole life — modules, the app, its URL map, SQLAlchemy's mappers: some 300 000
# objects — is frozen out of the cyclic collector's full collections. Traversing them cost a gunicorn worker 150-200
# ms of CPU each time, with every thread of the worker held; frozen, the worst collection under the dashboards' load
# fell to 38 ms and the collector's CPU per request by a fifth (bench/README.md, issue 20, session 13). What requests
# create is collected as before.
gc.collect()
gc.freeze()
