"""How the simulator reaches an IVR: over HTTP (a running server) or in-process (a WSGI app)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from werkzeug.test import Client


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: str
    content_type: str


class Transport(Protocol):
    base_url: str

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> HttpResponse: ...


class HttpTransport:
    """A real server at ``base_url``; absolute URLs from TwiML are requested as given."""

    def __init__(self, base_url: str, timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout  # Twilio's own limit for a webhook answer
        self.session = requests.Session()

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> HttpResponse:
        response = self.session.post(url, data=params, headers=headers, timeout=self.timeout,
                                     allow_redirects=False)
        return HttpResponse(response.status_code, response.text,
                            response.headers.get("Content-Type", "").split(";")[0].strip())


class WsgiTransport:
    """An app in this process: requests go through werkzeug's test client (no sockets)."""

    def __init__(self, app: Any, base_url: str = "http://localhost"):
        self.base_url = base_url.rstrip("/")
        self.client = Client(app)

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> HttpResponse:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(path, data=params, headers=headers,
                                    base_url=f"{parts.scheme}://{parts.netloc}" if parts.netloc else self.base_url)
        return HttpResponse(response.status_code, response.get_data(as_text=True),
                            (response.mimetype or "").strip())


class LoopbackServer:
    """An app served on a free loopback port by a thread of this process (werkzeug's threaded server), for what
    needs real sockets — media streams — without starting gunicorn. Use as a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1"):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class QuietHandler(WSGIRequestHandler):
            def log_request(self, *args: Any, **kwargs: Any) -> None:  # the simulator prints the call instead
                pass

        self._server = make_server(host, 0, app, threaded=True, request_handler=QuietHandler)
        self.base_url = f"http://{host}:{self._server.server_port}"
        self._thread: Any = None

    def __enter__(self) -> "LoopbackServer":
        import threading

        # A short poll interval: shutdown() waits for the serving loop to notice (0.5 s by default).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="ivr-loopback", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
