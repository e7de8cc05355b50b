"""The try-a-flow sandbox of one web process: a second app on a Redis database of its own, served on a loopback
port, and the background threads that play its tries.

The sandbox app is built, at the first try, by the function the web app passes in (see
``webhooks.consoles.tryflow``): this module knows nothing of the HTTP edge. What a try does is
:mod:`ivr.services.tries`.
"""

from __future__ import annotations

import atexit
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import redis as redis_lib

from ivr.services.publishing import FlowRepository
from ivr.services.tries import TryRunner
from ivr.simulator import LoopbackServer
from ivr.store.listening import ListenStore
from ivr.store.tries import TryStore
from speech.models import ModelRegistry


class TypedSpeech:
    """Speech models as a try sees them: every speech prompt listens (the tester types what the caller says), and
    the real registry still tells which languages a real caller could speak in."""

    def __init__(self, real: ModelRegistry):
        self.real = real

    def serves(self, language: str) -> bool:
        """Every language: the tester types what the caller says."""
        return True

    def get(self, language: str) -> Any:
        """The real model of ``language``."""
        return self.real.get(language)


@dataclass(frozen=True)
class SandboxApp:
    """The sandbox's app (any WSGI app) and what tries run against in it."""

    wsgi: Any
    repo: FlowRepository
    listening: ListenStore
    #: Whether a real caller could speak ``language`` (a model serves it live).
    speech_served: Callable[[str], bool]


#: ``build(auth_token)`` -> the sandbox's app, whose Twilio requests are signed with ``auth_token``.
BuildSandbox = Callable[[str], SandboxApp]


def sandbox_client(live: redis_lib.Redis, db: int) -> redis_lib.Redis:
    """A client of database ``db`` on the live client's server (same address and options)."""
    pool = live.connection_pool
    kwargs = dict(pool.connection_kwargs)
    if int(kwargs.get("db") or 0) == db:
        raise ValueError(f"IVR_TRY_REDIS_DB={db} is the live database: tries need a database of their own")
    kwargs["db"] = db
    return redis_lib.Redis(connection_pool=redis_lib.ConnectionPool(connection_class=pool.connection_class,
                                                                    **kwargs))


@dataclass
class Sandbox:
    """One process's sandbox: the Redis client of the try database, its app and loopback server (built by
    ``build`` and started with the first try), and the stop signal for the tries' threads."""

    redis: redis_lib.Redis
    store: TryStore
    build: BuildSandbox
    stop: threading.Event = field(default_factory=threading.Event)
    runner: TryRunner | None = None
    server: LoopbackServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start_runner(self) -> TryRunner:
        """The runner, building the sandbox app and serving it on loopback the first time."""
        with self.lock:
            if self.runner is not None:
                return self.runner
            token = secrets.token_hex(16)  # only this process's simulator signs requests to its sandbox
            app = self.build(token)
            self.server = LoopbackServer(app.wsgi).__enter__()
            self.runner = TryRunner(self.store, app.repo, app.listening, self.server.base_url, token,
                                    app.speech_served, self.stop)
            atexit.register(self.close)
            return self.runner

    def run(self, *args: Any) -> None:
        """Run one try in a background thread of this process."""
        runner = self.start_runner()
        thread = threading.Thread(target=runner.run, args=args, daemon=True, name=f"ivr-try-{args[0]}")
        with self.lock:
            self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def close(self, wait: float = 5.0) -> None:
        """Hang up this process's tries (each notices within a second) and stop serving the sandbox."""
        self.stop.set()
        for thread in list(self.threads):
            thread.join(timeout=wait)
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None
