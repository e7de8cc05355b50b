"""The agent registry: agents' profiles and statuses, presence, wrap-up ends, availability indexes, event streams."""

from __future__ import annotations

import json
from typing import Any

import redis as redis_lib

from routing import keys
from routing.errors import UnknownAgent
from routing.model import Agent, AgentStatus, clock_ms, language_skill

EVENTS_KEPT = 200


class AgentRegistry:
    """The agents on one Redis (``redis`` passed in) and what they are doing, read and written without matching
    any call: the :class:`~routing.acd.Distributor` matches, and keeps its agents here."""

    def __init__(self, redis: redis_lib.Redis):
        self.redis = redis

    def register(self, agent: Agent) -> None:
        """Create or update an agent (skills, capacity...); status is left as it is (offline for a new agent)."""
        old = self.agent(agent.id)
        levels = _levels(agent)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.AGENTS, agent.id, json.dumps({"name": agent.name, "skills": dict(agent.skills),
                                                     "languages": list(agent.languages),
                                                     "capacity": agent.capacity, "contact": agent.contact}))
        if old is not None:
            old_levels = _levels(old)
            pipe.hdel(keys.AGENT_SKILLS, *(f"{agent.id}|{s}" for s in old_levels))
            for skill, level in old_levels.items():  # out of the indexes of levels the agent no longer has
                for at in range(int(levels.get(skill, 0)) + 1, int(level) + 1):
                    pipe.zrem(keys.available(skill, at), agent.id)
        if levels:
            pipe.hset(keys.AGENT_SKILLS, mapping={f"{agent.id}|{s}": int(level) for s, level in levels.items()})
        pipe.hset(keys.AGENT_CAPACITY, agent.id, agent.capacity)
        pipe.hsetnx(keys.AGENT_STATUS, agent.id, AgentStatus.OFFLINE.value)
        pipe.hsetnx(keys.AGENT_LOAD, agent.id, 0)
        pipe.execute()
        self.index(agent)

    def agent(self, agent_id: str) -> Agent | None:
        raw = self.redis.hget(keys.AGENTS, agent_id)
        if raw is None:
            return None
        data = json.loads(raw)
        return Agent(agent_id, data["name"], data["skills"], tuple(data["languages"]), data["capacity"],
                     data["contact"])

    def all_agents(self) -> list[Agent]:
        agents = []
        for agent_id, raw in sorted(self.redis.hgetall(keys.AGENTS).items()):
            data = json.loads(raw)
            agents.append(Agent(agent_id.decode(), data["name"], data["skills"], tuple(data["languages"]),
                                data["capacity"], data["contact"]))
        return agents

    def record_status(self, agent_id: str, status: AgentStatus, now: int) -> None:
        """Store an agent's new status, since ``now`` (matching them when available is the distributor's)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.AGENT_STATUS, agent_id, status.value)
        pipe.hset(keys.AGENT_SINCE, agent_id, now)
        pipe.hset(keys.AGENT_SEEN, agent_id, now)
        pipe.hdel(keys.AGENT_WRAP_END, agent_id)  # a wrap-up's end belongs to that wrap-up only
        if status is AgentStatus.AVAILABLE:
            pipe.hsetnx(keys.AGENT_IDLE, agent_id, now)
            pipe.hset(keys.AGENT_MISSED, agent_id, 0)
        pipe.execute()

    def status(self, agent_id: str) -> tuple[AgentStatus, int]:
        """(status, load): the agent's chosen status and how many calls they hold or are offered now."""
        status, load = self.redis.hget(keys.AGENT_STATUS, agent_id), self.redis.hget(keys.AGENT_LOAD, agent_id)
        if status is None:
            raise UnknownAgent(agent_id)
        return AgentStatus(status.decode()), int(load or 0)

    def status_since(self, agent_id: str) -> int | None:
        raw = self.redis.hget(keys.AGENT_SINCE, agent_id)
        return int(raw) if raw is not None else None

    def touch(self, agent_id: str, now_ms: int | None = None) -> None:
        """The agent's console or client reported in (presence)."""
        self.redis.hset(keys.AGENT_SEEN, agent_id, now_ms if now_ms is not None else clock_ms())

    def last_seen(self, agent_id: str) -> int:
        """When the agent's console or client last reported in (ms; 0: never)."""
        return int(self.redis.hget(keys.AGENT_SEEN, agent_id) or 0)

    def emit(self, agent_id: str, kind: str, **data: Any) -> None:
        """Append an event to the agent's stream (kept short; consoles resume after the last id they saw)."""
        self.redis.xadd(keys.agent_events(agent_id), {"kind": kind, "data": json.dumps(data)},
                        maxlen=EVENTS_KEPT, approximate=True)

    def events(self, agent_id: str, after: str = "$", block_ms: int | None = None,
               count: int = 50) -> list[tuple[str, str, dict[str, Any]]]:
        """Events after id ``after`` (``0``: all kept, ``$``: only new), waiting up to ``block_ms`` for one."""
        reply = self.redis.xread({keys.agent_events(agent_id): after}, count=count, block=block_ms)
        events = []
        for _stream, entries in reply or []:
            for event_id, fields in entries:
                events.append((event_id.decode(), fields[b"kind"].decode(), json.loads(fields[b"data"])))
        return events

    def last_event_id(self, agent_id: str) -> str:
        """The id of the agent's newest event (``0``: none yet), where a fresh console's stream starts."""
        stream = keys.agent_events(agent_id)
        return self.redis.xinfo_stream(stream)["last-generated-id"].decode() if self.redis.exists(stream) else "0"

    def wrap_up_until(self, agent_id: str, end_ms: int) -> None:
        """Note when the agent's current wrap-up ends (its timer job may be lost: see :meth:`wrap_ups_over`)."""
        self.redis.hset(keys.AGENT_WRAP_END, agent_id, end_ms)

    def wrap_ups_over(self, wrap_up_ms: int, now: int) -> list[str]:
        """Agents still in wrap-up after its end: the noted end, else the status change plus ``wrap_up_ms`` (the
        live wrap-up time: a wrap-up chosen by the agent, or noted before this existed)."""
        over = []
        for raw_id, raw_status in self.redis.hgetall(keys.AGENT_STATUS).items():
            if raw_status.decode() != AgentStatus.WRAP_UP.value:
                continue
            agent_id = raw_id.decode()
            end = self.redis.hget(keys.AGENT_WRAP_END, agent_id)
            if end is None and wrap_up_ms <= 0:
                continue  # no configured wrap-up: an agent's own wrap-up lasts until they end it
            due = int(end) if end is not None else (self.status_since(agent_id) or now) + wrap_up_ms
            if due <= now:
                over.append(agent_id)
        return sorted(over)

    def index(self, agent: Agent) -> None:
        """(Re)enter an agent in the availability indexes (one per skill and level up to theirs, and the any-skill
        one), ordered by how long they have been idle."""
        idle = self.redis.hget(keys.AGENT_IDLE, agent.id)
        score = int(idle) if idle is not None else clock_ms()
        pipe = self.redis.pipeline(transaction=False)
        for skill, level in _levels(agent).items():
            for at in range(1, int(level) + 1):
                pipe.zadd(keys.available(skill, at), {agent.id: score})
        pipe.zadd(keys.available(keys.ANY_SKILL), {agent.id: score})
        pipe.execute()

    def signed_in(self) -> int:
        """Agents not offline (available, busy, wrap-up or on break)."""
        return sum(1 for status in self.redis.hvals(keys.AGENT_STATUS) if status != b"offline")

    def agents_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in self.redis.hvals(keys.AGENT_STATUS):
            counts[status.decode()] = counts.get(status.decode(), 0) + 1
        return counts


def _levels(agent: Agent) -> dict[str, int]:
    """An agent's skills as stored for matching: their skills and their languages."""
    return {**{s: int(level) for s, level in agent.skills.items()},
            **{language_skill(language): 1 for language in agent.languages if language.strip()}}
