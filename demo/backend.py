"""Northwind Energy's account API, as a small real HTTP service for the demo and the flow tests.

Sample accounts (all pass the Luhn check, like real Northwind account numbers):

=========  ==================  ========  ===========
number     name                balance   status
=========  ==================  ========  ===========
12345674   Ada Lovelace        142.17    active
20451183   Grace Hopper        0.00      active
33019274   Alan Turing         1310.50   suspended
44102366   Katherine Johnson   58.99     active
55233407   Edsger Dijkstra     7.25      active
=========  ==================  ========  ===========

Outages are known for ZIP codes 10001 and 10002.

Run it alone with ``python -m demo.backend --port 8089``.
"""

from __future__ import annotations

import argparse
import copy
import threading
from typing import Any, Callable

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

SAMPLE_ACCOUNTS: dict[str, dict[str, Any]] = {
    "12345674": {"name": "Ada Lovelace", "balance": 142.17, "due_date": "2026-12-01", "status": "active",
                 "last_payment": {"amount": 98.40, "date": "2026-10-28"}},
    "20451183": {"name": "Grace Hopper", "balance": 0.0, "due_date": "2026-12-05", "status": "active",
                 "last_payment": {"amount": 64.10, "date": "2026-11-03"}},
    "33019274": {"name": "Alan Turing", "balance": 1310.50, "due_date": "2026-09-15", "status": "suspended",
                 "last_payment": {"amount": 20.00, "date": "2026-06-30"}},
    "44102366": {"name": "Katherine Johnson", "balance": 58.99, "due_date": "2026-12-12", "status": "active",
                 "last_payment": {"amount": 61.75, "date": "2026-11-10"}},
    "55233407": {"name": "Edsger Dijkstra", "balance": 7.25, "due_date": "2026-12-20", "status": "active",
                 "last_payment": {"amount": 45.00, "date": "2026-11-18"}},
}
SAMPLE_OUTAGES = {
    "10001": {"active": True, "message": "We know about a power outage in your area. Our crews expect to restore "
                                         "power by 6 PM today.", "eta": "18:00"},
    "10002": {"active": True, "message": "Power is out in your area because of storm damage. Crews are on site.",
              "eta": "21:00"},
}


def create_backend(accounts: dict[str, dict[str, Any]] | None = None) -> Flask:
    """The account API: ``GET /accounts/<number>``, ``GET /outages?zip=``, ``POST /payments/promise``."""
    app = Flask("northwind-backend")
    data = copy.deepcopy(accounts if accounts is not None else SAMPLE_ACCOUNTS)
    promises: list[dict[str, str]] = []

    @app.get("/accounts/<number>")
    def account(number: str):
        record = data.get(number)
        if record is None:
            return jsonify(error="not found"), 404
        return jsonify(number=number, **record)

    @app.get("/outages")
    def outages():
        zip_code = request.args.get("zip", "")
        if not (zip_code.isdigit() and len(zip_code) == 5):
            return jsonify(error="zip must be 5 digits"), 400
        return jsonify(SAMPLE_OUTAGES.get(zip_code, {"active": False, "message": "", "eta": ""}))

    @app.post("/payments/promise")
    def promise():
        body = request.get_json(silent=True) or {}
        if body.get("account") not in data or not body.get("date"):
            return jsonify(error="account and date are required"), 400
        promises.append({"account": body["account"], "date": str(body["date"])})
        return jsonify(ok=True, promises=len(promises)), 201

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # the demo prints the call, not HTTP lines
        pass


def run_backend_in_thread(host: str = "127.0.0.1", port: int = 0,
                          accounts: dict[str, dict[str, Any]] | None = None) -> tuple[str, Callable[[], None]]:
    """Serve the backend on a loopback port in a thread; returns (base URL, stop function)."""
    server = make_server(host, port, create_backend(accounts), threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="sample-backend", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    return f"http://{host}:{server.server_port}", stop


def main() -> None:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args()
    create_backend().run(host=args.host, port=args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
