"""Lookups: the HTTP requests a flow's lookup nodes make, performed for the engine within a webhook's budget, and
the client a try of a flow uses instead (real reads from the services the live flows use, nothing else).

A try should hear what a real call would (a balance read from the billing API), but a draft must not be able to
change data or reach addresses the live flows never reach. So in a try a GET lookup to a base URL of one of the
live version's lookups is sent; any other lookup is not, and the flow goes on as if it had failed (the try's
steps say why).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Callable, Protocol

import requests

from ivr.engine import instructions as ins
from ivr.engine.events import LookupDone
from ivr.flowlang.model import LookupSpec
from ivr.services.publishing import FlowRepository

log = logging.getLogger(__name__)

#: Lookups performed within one webhook; Twilio waits 15 s for an answer, so stay well inside it.
MAX_LOOKUPS_PER_TURN = 4
LOOKUP_BUDGET_SECONDS = 8.0
MAX_LOOKUP_BYTES = 256 * 1024


class HttpClient(Protocol):
    """What lookups need of an HTTP client (a ``requests.Session``, :class:`TryLookups`, a test double)."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response: ...


def perform(http: HttpClient, request: ins.Lookup, timeout: float, clock: Callable[[], datetime]) -> LookupDone:
    """Send the engine's lookup with ``http`` and describe the outcome as the event the engine takes back (a
    failure, a body over :data:`MAX_LOOKUP_BYTES` or a 2xx body that is not JSON come back without a status)."""
    began = time.monotonic()
    try:
        response = http.request(request.method, request.url, params=request.params or None,
                                json=request.json, headers=request.headers, timeout=timeout,
                                allow_redirects=False, stream=True)
        body = response.raw.read(MAX_LOOKUP_BYTES + 1, decode_content=True) if response.raw else b""
        response.close()
    except requests.RequestException as e:
        log.warning("lookup %s %s failed: %s", request.method, request.url, e)
        return LookupDone(clock(), None, error=type(e).__name__)
    elapsed_ms = int((time.monotonic() - began) * 1000)
    if len(body) > MAX_LOOKUP_BYTES:
        return LookupDone(clock(), None, error="response too large")
    data = None
    if body:
        try:
            import json
            data = json.loads(body)
        except ValueError:
            if 200 <= response.status_code < 300:
                return LookupDone(clock(), None, error="response is not JSON")
    log.info("lookup %s %s -> %s in %d ms", request.method, request.url, response.status_code, elapsed_ms)
    return LookupDone(clock(), response.status_code, data)


class NotSentInTry(requests.RequestException):
    """A lookup a try does not make: it could change data, or it goes where the live flows never go."""


class TryLookups:
    """The sandbox's HTTP client (``CallService.http``)."""

    def __init__(self, live: FlowRepository, http: Any = None):
        self.live = live
        self.http = http or requests.Session()
        self._bases: tuple[int, frozenset[str]] | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send a GET to a base URL the live flows use; refuse anything else with :class:`NotSentInTry`."""
        if method.upper() != "GET":
            raise NotSentInTry(f"{method} lookups are not sent in a try: they could change data")
        if not any(url == base or url.startswith((base + "/", base + "?")) for base in self.allowed_bases()):
            raise NotSentInTry(f"{url} is not a service the live flows use: not sent in a try")
        return self.http.request(method, url, **kwargs)

    def allowed_bases(self) -> frozenset[str]:
        """Base URLs of the live version's lookups (computed once per live version)."""
        version, bundle = self.live.current()
        if self._bases is None or self._bases[0] != version:
            bases = frozenset(node.body.base_url.rstrip("/") for flow in bundle.flows.values()
                              for node in flow.nodes.values() if isinstance(node.body, LookupSpec))
            self._bases = (version, bases)
        return self._bases[1]
