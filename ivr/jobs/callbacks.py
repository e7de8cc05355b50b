"""The callback jobs: a waiting caller becomes a request to be called back (at a queue's maximum wait), and the
outbound calls of the requests that have an agent available are placed through Twilio's REST API."""

from __future__ import annotations

import logging
import time

import redis as redis_lib

from ivr.bootstrap import worker_services
from ivr.jobs.queue import job_connection
from ivr.telephony import urls
from ivr.telephony.rest import TwilioRestError

log = logging.getLogger(__name__)

#: An outbound callback not answered within this time goes back in line; after this many calls, it is dropped.
CALLBACK_RING_MS = 120_000
CALLBACK_ATTEMPTS = 3


def run_callbacks(connection: redis_lib.Redis | None = None) -> list[str]:
    """Place the outbound call of every callback request that has a qualified agent available now (one request
    per available agent per run), to the callback webhook, where the callee goes back in line at the request's
    place. Calls placed long ago and never answered go back in line (dropped after a few attempts). Run when a
    request is made and by every rematch sweep. Returns the requests called."""
    services = worker_services(connection or job_connection())
    acd = services.router
    for callback_id in acd.callbacks_calling_since(int(time.time() * 1000) - CALLBACK_RING_MS):
        if int((acd.callback(callback_id) or {}).get("attempts", 0)) >= CALLBACK_ATTEMPTS:
            acd.drop_callback(callback_id)
        else:
            acd.return_callback(callback_id)
    placed: list[str] = []
    agents_used: set[str] = set()
    for callback_id in acd.callbacks():
        agent = acd.agent_for(callback_id)
        if agent is None or agent in agents_used or not acd.take_callback(callback_id):
            continue
        record = acd.callback(callback_id) or {}
        base = services.settings.public_url or record.get("base_url")
        try:
            services.twilio.call(record["number"], record["from"],
                                 urls.absolute(base, urls.callback_path(callback_id)))  # type: ignore[arg-type]
        except (TwilioRestError, KeyError):
            log.exception("could not place callback %s", callback_id)
            acd.return_callback(callback_id)
            continue
        agents_used.add(agent)
        placed.append(callback_id)
    return placed
