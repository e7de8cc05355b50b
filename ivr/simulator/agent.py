"""A simulated agent working through the agent API: goes available, takes (or declines) the offers that come,
finishes wrap-up at once. Used by ``ivr agent simulate``, the demo and end-to-end tests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import requests

from ivr.simulator.call import SimulatorError


@dataclass
class SimulatedAgent:
    base_url: str
    token: str
    accept: bool = True
    poll_seconds: float = 0.2
    on_event: Callable[[str], None] = lambda line: None
    handled: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        self._stop = threading.Event()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, self.base_url.rstrip("/") + path, timeout=10, **kwargs)
        if response.status_code == 401:
            raise SimulatorError("the agent token was refused")
        return response

    def work(self, max_calls: int | None = None) -> list[dict[str, Any]]:
        """Go available and handle offers until :meth:`stop` or ``max_calls`` offers were handled."""
        me = self._call("GET", "/api/agent").json()
        self._call("POST", "/api/agent/status", json={"status": "available"})
        self.on_event(f"  AGENT {me['name']} is available (skills {me['skills']})")
        while not self._stop.is_set() and (max_calls is None or len(self.handled) < max_calls):
            offers = self._call("GET", "/api/agent/offers").json()["offers"]
            for offer in offers:
                self._handle(me, offer)
            if not offers:
                self._stop.wait(self.poll_seconds)
        self._call("POST", "/api/agent/status", json={"status": "offline"})
        return self.handled

    def _handle(self, me: dict[str, Any], offer: dict[str, Any]) -> None:
        said = ", ".join(offer["path"][-3:])
        self.on_event(f"  AGENT {me['name']} is offered a call from {offer['caller']} in '{offer['queue']}' "
                      f"(the caller went through {said})")
        if self.accept:
            response = self._call("POST", f"/api/agent/offers/{offer['reservation']}/accept")
            self.on_event(f"  AGENT {me['name']} accepts ({response.status_code})")
            if response.status_code == 200:
                self._wait_until_call_over()
            self._call("POST", "/api/agent/wrap-up")
            self.on_event(f"  AGENT {me['name']} finished wrap-up and is available again")
        else:
            self._call("POST", f"/api/agent/offers/{offer['reservation']}/decline")
            self.on_event(f"  AGENT {me['name']} declines")
        self.handled.append(offer)

    def _wait_until_call_over(self) -> None:
        while not self._stop.is_set():
            me = self._call("GET", "/api/agent").json()
            if me["load"] == 0:
                return
            self._stop.wait(self.poll_seconds)

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self, max_calls: int | None = None) -> threading.Thread:
        thread = threading.Thread(target=self.work, args=(max_calls,), name="simulated-agent", daemon=True)
        thread.start()
        return thread
