"""The lookups a try of a flow makes: real reads from the services the live flows use, nothing else.

A try should hear what a real call would (a balance read from the billing API), but a draft must not be able to
change data or reach addresses the live flows never reach. So in a try a GET lookup to a base URL of one of the
live version's lookups is sent; any other lookup is not, and the flow goes on as if it had failed (the try's
steps say why).
"""

from __future__ import annotations

from typing import Any

import requests

from ivr.flowlang.model import LookupSpec
from ivr.services.publishing import FlowRepository


class NotSentInTry(requests.RequestException):
    """A lookup a try does not make: it could change data, or it goes where the live flows never go."""


class TryLookups:
    """The sandbox's HTTP client (``CallService.http``)."""

    def __init__(self, live: FlowRepository, http: Any = None):
        self.live = live
        self.http = http or requests.Session()
        self._bases: tuple[int, frozenset[str]] | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
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
