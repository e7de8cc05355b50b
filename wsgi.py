"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (``ivr serve`` does this for you)."""

import logging

from webhooks import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
