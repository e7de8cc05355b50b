"""A cap on the long-lived console streams one web process serves at once.

Each Server-Sent Events stream (agent consoles, wallboards) holds one of the process's threads for up to 25 s.
Without a cap, enough open consoles would take every thread and Twilio's webhooks and media streams would wait:
callers would hear "an application error has occurred". So a process lends at most ``IVR_STREAM_SLOTS`` threads to
streams (``ivr serve`` sets half its threads); a stream beyond that is refused with 503 and ``Retry-After``, and
the consoles try again a few seconds later.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from typing import Any, Callable

from flask import Flask, Response, current_app, g, jsonify, request

from webhooks.auth import signed_in_account

RETRY_AFTER_SECONDS = 5
#: Streams one agent, account or token may hold in one process (console tabs).
PER_CLIENT = 3


class StreamSlots:
    """Counts the streams open in this process, in all (``limit``, 0 for no cap) and per account or token
    (``per_client``: a few tabs, never every slot)."""

    def __init__(self, limit: int, per_client: int = PER_CLIENT):
        self.limit = limit
        self.per_client = per_client
        self.open = 0
        self._by_client: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str) -> str | None:
        """None when a slot is taken for ``client``; else why not."""
        with self._lock:
            if self._by_client.get(client, 0) >= self.per_client:
                return f"you already have {self.per_client} live streams open here: close a console tab"
            if self.limit and self.open >= self.limit:
                return "this server is serving as many live streams as it may; retrying shortly"
            self.open += 1
            self._by_client[client] = self._by_client.get(client, 0) + 1
            return None

    def release(self, client: str) -> None:
        with self._lock:
            self.open = max(0, self.open - 1)
            left = self._by_client.get(client, 0) - 1
            if left > 0:
                self._by_client[client] = left
            else:
                self._by_client.pop(client, None)


def _client() -> str:
    """Who a stream is for: the agent, the signed-in account, or (a digest of) the bearer token."""
    agent = getattr(g, "agent_id", None)
    if agent:
        return f"agent:{agent}"
    account = signed_in_account()
    if account is not None:
        return f"account:{account.username}"
    return "token:" + hashlib.sha256(request.headers.get("Authorization", "").encode()).hexdigest()[:16]


def init_app(app: Flask) -> None:
    app.extensions["ivr_streams"] = StreamSlots(app.config["IVR_SETTINGS"].stream_slots)


def stream_slot(view: Callable[..., Any]) -> Callable[..., Any]:
    """A streaming view that needs a slot: 503 when none is free; the slot is given back when the stream closes
    (ends, or the client goes), or at once when the view answers without streaming."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        slots: StreamSlots = current_app.extensions["ivr_streams"]
        client = _client()
        refusal = slots.acquire(client)
        if refusal is not None:
            refused = jsonify(error=refusal)
            refused.status_code = 503
            refused.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return refused
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            slots.release(client)
            raise
        if isinstance(response, Response) and response.is_streamed and response.status_code == 200:
            response.call_on_close(functools.partial(slots.release, client))
        else:
            slots.release(client)
        return response

    return wrapper
