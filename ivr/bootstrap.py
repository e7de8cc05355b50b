"""The composition root: settings -> the services every process runs on (the web app, the RQ worker, the CLI and the
try-a-flow sandbox).

The one place where stores, services, the Twilio client and the job queue are wired together. The web app gets its
services from :func:`build_services` (``webhooks.create_app``); a worker process builds them once, on first use,
through :func:`worker_services`, and every job it runs takes what it needs from there. Nothing here imports the
HTTP edge: ``webhooks`` imports this module, not the other way round.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable

import redis as redis_lib

from ivr.config import Settings
from ivr.jobs import queue as jobs
from ivr.jobs.scheduler import RqScheduler
from ivr.runner.redis import EmbeddedRedis, connect
from ivr.services.calls import CallService
from ivr.services.lookups import HttpClient, TryLookups
from ivr.services.prompts import LocalPrompts
from ivr.services.publishing import FlowRepository
from ivr.services.sandbox import TypedSpeech
from ivr.services.scheduling import NullScheduler
from ivr.services.tries import SandboxRouter
from ivr.store.calllog import CallLog
from ivr.store.flowversions import FlowStore
from ivr.store.listening import ListenStore
from ivr.store.sessions import SessionStore
from ivr.telephony.rest import TwilioRest
from routing.acd import Distributor
from speech.models import ModelRegistry


@dataclass
class Services:
    """Shared clients of one process (of one app: ``app.extensions['ivr']``)."""

    settings: Settings
    redis: redis_lib.Redis
    repo: FlowRepository
    calllog: CallLog
    calls: CallService
    twilio: TwilioRest
    listening: ListenStore
    models: ModelRegistry
    prompts: LocalPrompts
    embedded: EmbeddedRedis | None = None

    @property
    def router(self) -> Distributor:
        """The distributor calls are routed by (the call service's)."""
        assert self.calls.router is not None
        return self.calls.router

    @property
    def sessions(self) -> SessionStore:
        """The calls' sessions (the call service's)."""
        return self.calls.sessions

    def preload_speech(self) -> None:
        """Load the speech models the live flows need now, not during a caller's first speech prompt."""
        try:
            _version, bundle = self.repo.current()
        except Exception:
            return
        for language in {flow.language for flow in bundle.flows.values()}:
            if self.models.serves(language):
                self.models.get(language)


def redis_for(settings: Settings) -> tuple[redis_lib.Redis, EmbeddedRedis | None]:
    """The Redis of ``settings`` (``REDIS_URL``), or, without one, a ``redis-server`` of our own started now."""
    if settings.redis_url:
        return connect(settings.redis_url), None
    embedded = EmbeddedRedis()
    embedded.start()
    return connect(embedded.url), embedded


def flow_repository(settings: Settings, redis: redis_lib.Redis) -> FlowRepository:
    """The published flows over ``redis``, with a publish queueing the rendering of the new version's prompts."""
    return FlowRepository(FlowStore(redis), settings.services, on_publish=jobs.publish_hook(redis, settings.tts_rate))


def build_services(settings: Settings, redis: redis_lib.Redis | None = None, *,
                   clock: Callable[[], datetime] | None = None, http: HttpClient | None = None) -> Services:
    """Every service of one process over ``redis`` (else the Redis of ``settings``, see :func:`redis_for`), with
    the calls' timers, counts, transcriptions and prompt renderings queued for the RQ worker."""
    embedded = None
    if redis is None:
        redis, embedded = redis_for(settings)
    repo = flow_repository(settings, redis)
    calllog = CallLog(redis, settings.calllog_ttl)
    calls = CallService(repo, SessionStore(redis, settings.session_ttl), calllog, http=http, clock=clock,
                        router=Distributor(redis), scheduler=RqScheduler(redis, calllog))
    prompts = LocalPrompts.from_settings(redis, settings, enqueue=jobs.prompt_renderer(redis))
    return Services(settings, redis, repo, calllog, calls, TwilioRest.from_settings(settings), ListenStore(redis),
                    ModelRegistry(settings.speech_models_dir), prompts, embedded)


# -- the worker ----------------------------------------------------------------------------------------------------
_worker: tuple[redis_lib.Redis, Services] | None = None
_worker_lock = threading.Lock()


def worker_services(connection: redis_lib.Redis) -> Services:
    """The services of this worker process over ``connection`` (the RQ worker's, which every job it runs gets):
    built from the environment's settings on first use, then shared by every job. ``ivr worker`` builds them
    before it starts working, so the work horses it forks for each job inherit them.

    They are kept for one connection at a time: a process that runs jobs on another connection (the tests do, on
    a fresh client per test) gets services of its own for it, so nothing built for one Redis serves another."""
    global _worker
    with _worker_lock:
        if _worker is None or _worker[0] is not connection:
            _worker = (connection, build_services(Settings.from_env(), connection))
        return _worker[1]


# -- tries ---------------------------------------------------------------------------------------------------------
def sandbox_services(live: Services, redis: redis_lib.Redis, auth_token: str, keep: int) -> Services:
    """The services of a try-a-flow sandbox on ``redis`` (another database): the live settings, but no public URL,
    proxy, API token or Twilio API, requests signed with ``auth_token``, sessions and logs kept ``keep`` seconds.
    No RQ worker serves the sandbox database, and nothing of a try needs one: no agents are offered calls, no
    timers, counts, transcriptions or rendered prompts (the caller reads the words instead). Every speech prompt
    listens (typed), queues count the live system's signed-in agents, lookups go to the live flows' services."""
    settings = replace(live.settings, redis_url=None, twilio_auth_token=auth_token, public_url=None, trust_proxy=0,
                       api_token="", twilio_api_url=None, session_ttl=keep, calllog_ttl=keep)
    services = build_services(settings, redis)
    services.models = TypedSpeech(services.models)  # type: ignore[assignment]
    calls = services.calls
    calls.scheduler = NullScheduler()
    calls.router = SandboxRouter(redis, live=live.router)
    calls.http = TryLookups(live.repo)
    services.repo.on_publish = None
    return services
