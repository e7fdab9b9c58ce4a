"""WSGI entry point: ``gunicorn app:app``."""

from marketplace import create_app

app = create_app()
