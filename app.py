"""WSGI entry point: `gunicorn app:app`, `flask --app app run`."""
from chorus_chain import create_app

app = create_app()
