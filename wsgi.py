"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (``ivr serve`` does this for you)."""

import logging
import os

from webhooks import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app(publish_flows=os.environ.get("IVR_PUBLISH_ON_START", "1") != "0")
