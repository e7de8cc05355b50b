"""A cap on the long-lived console streams one web process serves at once.

Each Server-Sent Events stream (agent consoles, wallboards) holds one of the process's threads for up to 25 s.
Without a cap, enough open consoles would take every thread and Twilio's webhooks and media streams would wait:
callers would hear "an application error has occurred". So a process lends at most ``IVR_STREAM_SLOTS`` threads to
streams (``ivr serve`` sets half its threads); a stream beyond that is refused with 503 and ``Retry-After``, and
the consoles try again a few seconds later.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable

from flask import Flask, Response, current_app, jsonify

RETRY_AFTER_SECONDS = 5


class StreamSlots:
    """Counts the streams open in this process; ``limit`` 0 means no cap."""

    def __init__(self, limit: int):
        self.limit = limit
        self.open = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        with self._lock:
            if self.limit and self.open >= self.limit:
                return False
            self.open += 1
            return True

    def release(self) -> None:
        with self._lock:
            self.open = max(0, self.open - 1)


def init_app(app: Flask) -> None:
    app.extensions["ivr_streams"] = StreamSlots(app.config["IVR_SETTINGS"].stream_slots)


def stream_slot(view: Callable[..., Any]) -> Callable[..., Any]:
    """A streaming view that needs a slot: 503 when none is free; the slot is given back when the stream closes
    (ends, or the client goes), or at once when the view answers without streaming."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        slots: StreamSlots = current_app.extensions["ivr_streams"]
        if not slots.acquire():
            refused = jsonify(error="this server is serving as many live streams as it may; retrying shortly")
            refused.status_code = 503
            refused.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return refused
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            slots.release()
            raise
        if isinstance(response, Response) and response.is_streamed and response.status_code == 200:
            response.call_on_close(slots.release)
        else:
            slots.release()
        return response

    return wrapper
