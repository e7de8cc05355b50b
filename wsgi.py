"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (``ivr serve`` does this for you)."""

import gc
import logging
import os

from webhooks import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app(publish_flows=os.environ.get("IVR_PUBLISH_ON_START", "1") != "0")
# Speech models take seconds to load: load the ones the live flows need before the first caller speaks.
app.extensions["ivr"].preload_speech()

# Everything loaded so far (libraries, the parsed flows) lives as long as the process: move it out of the
# garbage collector's sight, so full collections stay short and do not show up as latency spikes on calls.
gc.collect()
gc.freeze()
