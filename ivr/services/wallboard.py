"""The supervisor wallboard's figures: a live snapshot of the queues and agents, and each day's history of calls
waiting and service level per queue.

The history is sampled by an RQ job chain like the routing rematch sweep (:mod:`ivr.jobs.wallboard`): one
chain however many workers run, restarted by a worker's startup sweep when lost. The samples are kept by
:class:`~ivr.store.wallboard.WallboardHistory`: one sorted set per UTC day (scored by time), kept
:data:`~ivr.store.wallboard.HISTORY_TTL` seconds.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict
from datetime import date
from typing import Any, Iterable, Mapping

import redis as redis_lib

from ivr.services.publishing import FlowRepository
from ivr.store.wallboard import QueueSample, WallboardHistory, utc_day
from routing.acd import Distributor

log = logging.getLogger(__name__)

#: Seconds between two samples of the day's chart.
SAMPLE_EVERY = 60
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Snapshot fields that change every second by themselves (the browser ticks them): not a change worth a push.
TICKING = ("at_ms", "longest_wait_s", "in_status_s")


# -- live snapshot -----------------------------------------------------------------------------------------------
def live_queue_names(repo: FlowRepository) -> list[str]:
    """The queues of the live flow version's queues.yaml, sorted (none when nothing is published)."""
    try:
        _version, bundle = repo.current()
    except Exception as e:  # nothing published, or Redis away: the wallboard shows no queues rather than failing
        log.warning("no live queue configuration for the wallboard: %s", e)
        return []
    return sorted(bundle.routing.queues) if bundle.routing else []


def snapshot(router: Distributor, queue_names: Iterable[str], now_ms: int) -> dict[str, Any]:
    """Everything the wallboard shows now: each queue's figures (:meth:`Distributor.queue_stats`), each agent's
    status, time in it, load and skills, and how many agents are in each status."""
    queues = [router.queue_stats(name, now_ms) for name in queue_names]
    agents = []
    for agent in router.all_agents():
        status, load = router.status(agent.id)
        since = router.status_since(agent.id)
        agents.append({"id": agent.id, "name": agent.name, "status": status.value, "since_ms": since,
                       "in_status_s": max(0, (now_ms - since) // 1000) if since is not None else None,
                       "load": load, "capacity": agent.capacity, "skills": dict(sorted(agent.skills.items())),
                       "languages": list(agent.languages)})
    return {"at_ms": now_ms, "day": utc_day(now_ms).isoformat(), "queues": queues, "agents": agents,
            "agents_by_status": router.agents_by_status()}


def fingerprint(snap: Mapping[str, Any]) -> str:
    """What identifies a snapshot apart from the passing of time: two snapshots with the same fingerprint differ
    only in figures the browser keeps ticking by itself."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in TICKING}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(dict(snap)), sort_keys=True)


# -- history -----------------------------------------------------------------------------------------------------
def parse_day(raw: str) -> date:
    """A ``YYYY-MM-DD`` day; ValueError with a message fit for the user otherwise."""
    if not _DAY.match(raw or ""):
        raise ValueError(f"'day' must be a date written YYYY-MM-DD, such as 2026-11-24 (not {raw[:20]!r})")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'day' {raw!r} is not a calendar date") from None


def take_sample(connection: redis_lib.Redis, queue_names: Iterable[str], now_ms: int | None = None) -> dict[str, Any]:
    """Record the queues' figures now on the wallboard's history; returns the sample."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    router = Distributor(connection)
    samples = {}
    for name in queue_names:
        stats = router.queue_stats(name, now)
        samples[name] = QueueSample(stats["waiting"], stats["longest_wait_s"], stats["service_level"])
    WallboardHistory(connection).record(now, samples)
    return {"at": now, "queues": {name: asdict(s) for name, s in samples.items()}}
