"""The automatic call distributor: agents, waiting calls and offers in Redis, matched by atomic Lua steps.

Knows nothing of flows or HTTP: it routes "a call needing {skill: level}" to "an agent having them". Every claim is
one script that takes a waiting call and a qualified agent together, so no call is offered to two agents and no
agent gets more calls than their capacity, whatever runs concurrently.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Mapping

import redis as redis_lib

from routing import keys, scripts
from routing.errors import RoutingError, UnknownAgent

COMMON = [keys.CALL_REQ, keys.CALL_STATE, keys.CALL_SCORE, keys.CALL_QUEUE, keys.CALL_DECLINED, keys.AGENT_STATUS,
          keys.AGENT_LOAD, keys.AGENT_CAPACITY, keys.AGENT_SKILLS, keys.RESERVATIONS, keys.OFFER_EXPIRY,
          keys.AGENT_IDLE, keys.CALL_OFFER, keys.SETTINGS]
#: Room for priorities 0..100 in front of a millisecond arrival time in one zset score (exact in a double).
PRIORITY_WEIGHT = 10 ** 13


class AgentStatus(str, Enum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    BUSY = "busy"
    WRAP_UP = "wrap-up"
    BREAK = "break"


class Outcome(str, Enum):
    DECLINED = "declined"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    skills: Mapping[str, int]
    languages: tuple[str, ...] = ()
    capacity: int = 1
    contact: str = ""

    def __post_init__(self) -> None:
        if not self.id or "|" in self.id or "," in self.id:
            raise RoutingError(f"agent id {self.id!r} must be non-empty, without '|' or ','")
        for skill, level in self.skills.items():
            if not 1 <= int(level) <= 10:
                raise RoutingError(f"skill {skill!r} of agent {self.id!r} has level {level}: levels are 1 to 10")
        if self.capacity < 1:
            raise RoutingError(f"agent {self.id!r} needs a capacity of at least 1")


@dataclass(frozen=True)
class Offer:
    """A reservation: ``call_sid`` is offered to ``agent`` until ``expires`` (ms since the epoch)."""

    reservation: str
    call_sid: str
    agent: str
    expires: int


@dataclass
class Distributor:
    """Agents, queues and offers on one Redis (``redis`` passed in). ``queues`` limits the queues whose waiting
    calls an available agent is matched against (default: every queue that has had calls). ``offer_timeout_ms``
    and ``max_missed`` left as None follow the live configuration (:meth:`configure`, done when queues.yaml is
    published), read inside the scripts; given, they override it. Claims read their
    candidates ``batch`` at a time; strategies that compare agents (most-skilled, round-robin) compare at most
    ``scan_limit`` qualified ones. Neither bounds the search: a qualified agent or call is always found."""

    redis: redis_lib.Redis
    queues: list[str] = field(default_factory=list)
    offer_timeout_ms: int | None = None
    max_missed: int | None = None
    service_level_ms: int = 20_000
    batch: int = 32
    scan_limit: int = 256

    def __post_init__(self) -> None:
        self._offer_for_call = self.redis.register_script(scripts.OFFER_FOR_CALL)
        self._offer_for_agent = self.redis.register_script(scripts.OFFER_FOR_AGENT)
        self._release = self.redis.register_script(scripts.RELEASE)
        self._accept = self.redis.register_script(scripts.ACCEPT)
        self._finish = self.redis.register_script(scripts.FINISH)
        self._requeue = self.redis.register_script(scripts.REQUEUE)
        self._callback_state = self.redis.register_script(scripts.CALLBACK_STATE)

    # -- configuration -------------------------------------------------------------------------------------------
    def configure(self, offer_timeout_ms: int, max_missed: int, wrap_up_ms: int) -> None:
        """Make these the live settings (from the published queues.yaml) for every process and script."""
        self.redis.hset(keys.SETTINGS, mapping={"offer_timeout_ms": int(offer_timeout_ms),
                                               "max_missed": int(max_missed), "wrap_up_ms": int(wrap_up_ms)})

    def settings(self) -> dict[str, int]:
        """The live settings, with the defaults for any not configured (15 s offers, 3 missed, 30 s wrap-up)."""
        raw = {k.decode(): int(v) for k, v in self.redis.hgetall(keys.SETTINGS).items()}
        return {**DEFAULT_SETTINGS, **raw}

    # -- agents --------------------------------------------------------------------------------------------------
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
        self._index(agent)

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

    def set_status(self, agent_id: str, status: AgentStatus, now_ms: int | None = None) -> Offer | None:
        """Change an agent's status; becoming available looks for a waiting call at once."""
        agent = self.agent(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        now = now_ms if now_ms is not None else _now_ms()
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.AGENT_STATUS, agent_id, status.value)
        pipe.hset(keys.AGENT_SINCE, agent_id, now)
        pipe.hset(keys.AGENT_SEEN, agent_id, now)
        pipe.hdel(keys.AGENT_WRAP_END, agent_id)  # a wrap-up's end belongs to that wrap-up only
        if status is AgentStatus.AVAILABLE:
            pipe.hsetnx(keys.AGENT_IDLE, agent_id, now)
            pipe.hset(keys.AGENT_MISSED, agent_id, 0)
        pipe.execute()
        self.emit(agent_id, "status", status=status.value)
        if status is AgentStatus.AVAILABLE:
            self._index(agent)
            return self.offer_for_agent(agent_id, now)
        return None

    def status(self, agent_id: str) -> tuple[AgentStatus, int]:
        """(status, load): the agent's chosen status and how many calls they hold or are offered now."""
        status, load = self.redis.hget(keys.AGENT_STATUS, agent_id), self.redis.hget(keys.AGENT_LOAD, agent_id)
        if status is None:
            raise UnknownAgent(agent_id)
        return AgentStatus(status.decode()), int(load or 0)

    def touch(self, agent_id: str, now_ms: int | None = None) -> None:
        """The agent's console or client reported in (presence)."""
        self.redis.hset(keys.AGENT_SEEN, agent_id, now_ms if now_ms is not None else _now_ms())

    def expire_presence(self, agent_id: str, ttl_ms: int, now_ms: int | None = None) -> int | None:
        """Sign out an agent whose console stopped reporting for ``ttl_ms``. Returns when to check again (ms),
        or None when the agent is offline (signed out now or before)."""
        now = now_ms if now_ms is not None else _now_ms()
        status, _load = self.status(agent_id)
        if status is AgentStatus.OFFLINE:
            return None
        seen = int(self.redis.hget(keys.AGENT_SEEN, agent_id) or 0)
        if now - seen >= ttl_ms:
            self.set_status(agent_id, AgentStatus.OFFLINE, now)
            return None
        return seen + ttl_ms

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

    def wrap_up_until(self, agent_id: str, end_ms: int) -> None:
        """Note when the agent's current wrap-up ends (its timer job may be lost: see :meth:`wrap_ups_over`)."""
        self.redis.hset(keys.AGENT_WRAP_END, agent_id, end_ms)

    def wrap_ups_over(self, now_ms: int | None = None) -> list[str]:
        """Agents still in wrap-up after its end: the noted end, else the status change plus the live wrap-up
        time (a wrap-up chosen by the agent, or noted before this existed)."""
        now = now_ms if now_ms is not None else _now_ms()
        wrap_up_ms = self.settings()["wrap_up_ms"]
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

    def status_since(self, agent_id: str) -> int | None:
        raw = self.redis.hget(keys.AGENT_SINCE, agent_id)
        return int(raw) if raw is not None else None

    def _index(self, agent: Agent) -> None:
        """(Re)enter an agent in the availability indexes (one per skill and level up to theirs, and the any-skill
        one), ordered by how long they have been idle."""
        idle = self.redis.hget(keys.AGENT_IDLE, agent.id)
        score = int(idle) if idle is not None else _now_ms()
        pipe = self.redis.pipeline(transaction=False)
        for skill, level in _levels(agent).items():
            for at in range(1, int(level) + 1):
                pipe.zadd(keys.available(skill, at), {agent.id: score})
        pipe.zadd(keys.available(keys.ANY_SKILL), {agent.id: score})
        pipe.execute()

    # -- calls ---------------------------------------------------------------------------------------------------
    def enqueue(self, call_sid: str, queue: str, skills: Mapping[str, int], priority: int = 0,
                now_ms: int | None = None, offer: bool = True, language: str | None = None) -> Offer | None:
        """Put a call in ``queue`` needing ``skills`` (skill: minimum level) and, unless ``offer`` is false,
        offer it at once if an agent qualifies. Priority 0..100, higher first; then first come first served.
        With ``language`` (``es-US``...), only agents who speak it qualify (compared by primary subtag: ``es``)."""
        if not 0 <= priority <= 100:
            raise RoutingError(f"priority {priority} is not between 0 and 100")
        skills = {**skills, **({language_skill(language): 1} if language else {})}
        now = now_ms if now_ms is not None else _now_ms()
        score = (100 - priority) * PRIORITY_WEIGHT + now
        requirement = ";".join(f"{skill}={int(level)}" for skill, level in sorted(skills.items()))
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_REQ, call_sid, requirement)
        pipe.hset(keys.CALL_SCORE, call_sid, score)
        pipe.hset(keys.CALL_QUEUE, call_sid, queue)
        pipe.hset(keys.CALL_STATE, call_sid, "waiting")
        pipe.zadd(keys.waiting(queue), {call_sid: score})
        pipe.sadd(keys.QUEUE_NAMES, queue)
        pipe.hset(keys.CALL_SINCE, call_sid, now)
        pipe.hincrby(keys.queue_stats(queue, _day(now)), "entered", 1)
        pipe.expire(keys.queue_stats(queue, _day(now)), STATS_TTL)
        pipe.execute()
        return self.claim_for_call(call_sid, queue, skills, now) if offer else None

    def offer_for_call(self, call_sid: str, now_ms: int | None = None) -> Offer | None:
        """Look for an agent for a waiting call (after a failed offer, or when an escalation step opens)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(keys.CALL_QUEUE, call_sid)
        pipe.hget(keys.CALL_REQ, call_sid)
        raw_queue, raw_req = pipe.execute()
        if raw_queue is None:
            return None
        return self.claim_for_call(call_sid, raw_queue.decode(), _parse_req(raw_req), now_ms)

    def set_strategy(self, queue: str, strategy: str) -> None:
        """How ``queue`` picks among qualified agents: longest-idle (default), most-skilled or round-robin."""
        self.redis.hset(keys.QUEUE_STRATEGY, queue, strategy)

    def claim_for_call(self, call_sid: str, queue: str, skills: Mapping[str, int] | Iterable[str],
                       now_ms: int | None = None) -> Offer | None:
        """The atomic claim (one round trip): the call and a qualified agent chosen by the queue's strategy.
        ``skills`` are the call's requirements (skill: minimum level; a bare list means level 1): they name the
        availability indexes the script picks its candidates from."""
        levels = dict(skills) if isinstance(skills, Mapping) else {skill: 1 for skill in skills}
        indexes = ([keys.available(s, level) for s, level in levels.items()]
                   or [keys.available(keys.ANY_SKILL)])
        result = self._offer_for_call(
            keys=[*COMMON, keys.waiting(queue), keys.AGENT_LAST_OFFER, keys.QUEUE_STRATEGY, *indexes],
            args=[call_sid, now_ms if now_ms is not None else _now_ms(), _reservation_id(),
                  _arg(self.offer_timeout_ms), self.batch, self.scan_limit, queue])
        return self._offered(_offer(result))

    def offer_for_agent(self, agent_id: str, now_ms: int | None = None) -> Offer | None:
        """Look for the best waiting call for an agent (when they become available or their slot frees up)."""
        queues = self.queues or sorted(q.decode() for q in self.redis.smembers(keys.QUEUE_NAMES))
        if not queues:
            return None
        result = self._offer_for_agent(
            keys=[*COMMON, *(keys.waiting(q) for q in queues)],
            args=[agent_id, now_ms if now_ms is not None else _now_ms(), _reservation_id(),
                  _arg(self.offer_timeout_ms), self.batch])
        return self._offered(_offer(result))

    # -- callbacks -----------------------------------------------------------------------------------------------
    def to_callback(self, call_sid: str, callback_id: str, record: Mapping[str, Any]) -> bool:
        """A waiting call becomes a callback request (the caller hangs up and will be called back): it leaves
        its queue and the request takes its place in line (requirements, priority, position time). ``record``
        is kept with it (number to call, number to call from, opaque context). False when not waiting."""
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.CALL_QUEUE, keys.CALL_REQ, keys.CALL_SCORE, keys.CALL_SINCE, keys.CALL_STATE):
            pipe.hget(key, call_sid)
        queue, req, score, since, state = pipe.execute()
        if queue is None or state != b"waiting":
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_STATE, call_sid, "ended")
        pipe.zrem(keys.waiting(queue.decode()), call_sid)
        pipe.hset(keys.CALL_QUEUE, callback_id, queue)
        pipe.hset(keys.CALL_REQ, callback_id, req or b"")
        pipe.hset(keys.CALL_SCORE, callback_id, score)
        pipe.hset(keys.CALL_SINCE, callback_id, since or _now_ms())
        pipe.hset(keys.CALL_STATE, callback_id, "callback")
        pipe.zadd(keys.CALLBACKS, {callback_id: float(score)})
        pipe.hset(keys.CALLBACK, callback_id, json.dumps({**record, "queue": queue.decode(), "call_sid": call_sid,
                                                         "attempts": 0}))
        pipe.execute()
        return True

    def callbacks(self) -> list[str]:
        """Callback requests waiting for an agent, in line order."""
        return [cid.decode() for cid in self.redis.zrange(keys.CALLBACKS, 0, -1)]

    def callback(self, callback_id: str) -> dict[str, Any] | None:
        raw = self.redis.hget(keys.CALLBACK, callback_id)
        return json.loads(raw) if raw is not None else None

    def agent_for(self, callback_id: str) -> str | None:
        """An available agent who qualifies for the callback now (nobody is reserved: the callee is offered
        like any call once they answer and are back in line)."""
        queue = (self.redis.hget(keys.CALL_QUEUE, callback_id) or b"").decode()
        levels = _parse_req(self.redis.hget(keys.CALL_REQ, callback_id))
        indexes = [keys.available(s, level) for s, level in levels.items()] or [keys.available(keys.ANY_SKILL)]
        result = self._offer_for_call(
            keys=[*COMMON, keys.waiting(queue), keys.AGENT_LAST_OFFER, keys.QUEUE_STRATEGY, *indexes],
            args=[callback_id, _now_ms(), "", _arg(self.offer_timeout_ms), self.batch, self.scan_limit, queue,
                  "peek"])
        return result[2].decode() if result else None

    def take_callback(self, callback_id: str, now_ms: int | None = None) -> bool:
        """Claim the callback to place its call (only one job does); it counts as an attempt."""
        now = now_ms if now_ms is not None else _now_ms()
        taken = self._callback_state(keys=[keys.CALL_STATE, keys.CALLBACKS, keys.CALLBACKS_CALLING,
                                           keys.CALL_SCORE], args=[callback_id, "take", now])
        if taken:
            record = self.callback(callback_id) or {}
            record["attempts"] = int(record.get("attempts", 0)) + 1
            self.redis.hset(keys.CALLBACK, callback_id, json.dumps(record))
        return bool(taken)

    def return_callback(self, callback_id: str) -> bool:
        """The outbound call failed or was not answered: the request goes back to its place in line."""
        return bool(self._callback_state(keys=[keys.CALL_STATE, keys.CALLBACKS, keys.CALLBACKS_CALLING,
                                               keys.CALL_SCORE], args=[callback_id, "return", _now_ms()]))

    def callbacks_calling_since(self, before_ms: int) -> list[str]:
        """Callbacks whose outbound call was placed before ``before_ms`` and never answered."""
        return [cid.decode() for cid in self.redis.zrangebyscore(keys.CALLBACKS_CALLING, "-inf", before_ms)]

    def drop_callback(self, callback_id: str) -> None:
        """Give up on a callback (attempts exhausted)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_STATE, callback_id, "ended")
        pipe.zrem(keys.CALLBACKS, callback_id)
        pipe.zrem(keys.CALLBACKS_CALLING, callback_id)
        pipe.hdel(keys.CALLBACK, callback_id)
        pipe.execute()

    def callback_answered(self, callback_id: str, call_sid: str, now_ms: int | None = None) -> Offer | None:
        """The callee answered the outbound call ``call_sid``: it waits in the callback's queue at the place
        the request kept, and is offered at once if an agent qualifies. Returns that offer."""
        pipe = self.redis.pipeline(transaction=False)
        for key in (keys.CALL_QUEUE, keys.CALL_REQ, keys.CALL_SCORE, keys.CALL_SINCE, keys.CALL_STATE):
            pipe.hget(key, callback_id)
        queue, req, score, since, state = pipe.execute()
        if queue is None or state not in (b"calling", b"callback"):
            return None
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_STATE, callback_id, "ended")
        pipe.zrem(keys.CALLBACKS, callback_id)
        pipe.zrem(keys.CALLBACKS_CALLING, callback_id)
        pipe.hdel(keys.CALLBACK, callback_id)
        pipe.hset(keys.CALL_QUEUE, call_sid, queue)
        pipe.hset(keys.CALL_REQ, call_sid, req or b"")
        pipe.hset(keys.CALL_SCORE, call_sid, score)
        pipe.hset(keys.CALL_SINCE, call_sid, since)
        pipe.hset(keys.CALL_STATE, call_sid, "waiting")
        pipe.zadd(keys.waiting(queue.decode()), {call_sid: float(score)})
        pipe.execute()
        return self.claim_for_call(call_sid, queue.decode(), _parse_req(req), now_ms)

    def rematch(self, now_ms: int | None = None) -> list[Offer]:
        """Safety net, run periodically: offer every waiting call, in line order, to a qualified available agent
        if there is one now. Claims triggered by events (a call queued, an agent free, an escalation) already do
        this; the sweep catches what a crash or a race between those triggers left waiting."""
        if self.redis.zcard(keys.available(keys.ANY_SKILL)) == 0:  # nobody can be available: nothing to do
            return []
        offers = []
        queues = self.queues or sorted(q.decode() for q in self.redis.smembers(keys.QUEUE_NAMES))
        for queue in queues:
            for call_sid in self.waiting(queue):
                offer = self.offer_for_call(call_sid, now_ms)
                if offer is not None:
                    offers.append(offer)
        return offers

    def _offered(self, offer: Offer | None) -> Offer | None:
        if offer is not None:
            self.emit(offer.agent, "offer", reservation=offer.reservation, call_sid=offer.call_sid,
                      expires=offer.expires)
        return offer

    def waiting(self, queue: str) -> list[str]:
        """Call SIDs waiting in ``queue``, in the order they will be served."""
        return [sid.decode() for sid in self.redis.zrange(keys.waiting(queue), 0, -1)]

    def call_state(self, call_sid: str) -> str | None:
        raw = self.redis.hget(keys.CALL_STATE, call_sid)
        return raw.decode() if raw is not None else None

    # -- offers --------------------------------------------------------------------------------------------------
    def accept(self, reservation: str, agent_id: str, now_ms: int | None = None) -> bool:
        """The agent takes the offered call; False when the offer is gone (timed out, cancelled) or not theirs."""
        result = self._accept(keys=[*COMMON, keys.CALL_AGENT, keys.AGENT_MISSED], args=[reservation, agent_id])
        if not result:
            return False
        call_sid = result[0].decode()
        now = now_ms if now_ms is not None else _now_ms()
        queue, since = self.redis.hget(keys.CALL_QUEUE, call_sid), self.redis.hget(keys.CALL_SINCE, call_sid)
        if queue is not None:
            waited = max(0, now - int(since or now))
            stats = keys.queue_stats(queue.decode(), _day(now))
            pipe = self.redis.pipeline(transaction=False)
            pipe.hincrby(stats, "answered", 1)
            pipe.hincrby(stats, "wait_ms", waited)
            if waited <= self.service_level_ms:
                pipe.hincrby(stats, "answered_in_sl", 1)
            pipe.execute()
        return True

    def decline(self, reservation: str, now_ms: int | None = None) -> list[Offer]:
        """The agent refuses: the call keeps its place and goes to the next qualified agent, if any; the agent,
        free again, is offered the next call they qualify for, if any. Returns those new offers."""
        return self.end_offer(reservation, Outcome.DECLINED, now_ms)[1]

    def cancel(self, reservation: str, now_ms: int | None = None) -> list[Offer]:
        """The caller hung up while the call was offered (counts as abandoned). Returns the agent's next offer
        (their slot is free again), if any."""
        raw = self.redis.hget(keys.RESERVATIONS, reservation)
        offers = self.end_offer(reservation, Outcome.CANCELLED, now_ms)[1]
        queue = self.redis.hget(keys.CALL_QUEUE, raw.decode().split("|")[0]) if raw is not None else None
        if queue is not None:
            self.redis.hincrby(keys.queue_stats(queue.decode(), _day(now_ms or _now_ms())), "abandoned", 1)
        return offers

    def expire_offers(self, now_ms: int | None = None) -> list[Offer]:
        """Time out offers past their expiry; each call is offered again. Returns the new offers."""
        return [offer for _ended, new in self.expire_due(now_ms) for offer in new]

    def expire_due(self, now_ms: int | None = None) -> list[tuple[Offer, list[Offer]]]:
        """Time out offers past their expiry: each ``(offer that timed out, new offers it led to)``."""
        now = now_ms if now_ms is not None else _now_ms()
        results = []
        for rid in self.redis.zrangebyscore(keys.OFFER_EXPIRY, "-inf", now):
            ended, offers = self.end_offer(rid.decode(), Outcome.TIMEOUT, now)
            if ended is not None:
                results.append((ended, offers))
        return results

    def finish(self, call_sid: str, now_ms: int | None = None) -> Offer | None:
        """An accepted call ended: the agent's slot frees up (and they get the next call if available)."""
        now = now_ms if now_ms is not None else _now_ms()
        agent = self._finish(keys=[*COMMON, keys.CALL_AGENT], args=[call_sid, now])
        if not agent:
            return None
        agent_id = agent.decode()
        self.emit(agent_id, "call-ended", call_sid=call_sid)
        status, _load = self.status(agent_id)
        if status is AgentStatus.AVAILABLE:
            record = self.agent(agent_id)
            if record is not None:
                self._index(record)
            return self.offer_for_agent(agent_id, now)
        return None

    def requeue(self, call_sid: str, now_ms: int | None = None) -> list[Offer]:
        """An accepted call did not reach the agent (no answer, busy): it goes back to its old place in the
        queue and is offered to the next qualified agent, if any; the agent, free again, is offered their next
        call, if any. Returns those new offers (each needs its timer)."""
        queue = (self.redis.hget(keys.CALL_QUEUE, call_sid) or b"").decode()
        agent = self._requeue(keys=[*COMMON, keys.CALL_AGENT, keys.waiting(queue)], args=[call_sid])
        if not agent:
            return []
        self.emit(agent.decode(), "call-ended", call_sid=call_sid, requeued=True)
        offers = [self.offer_for_call(call_sid, now_ms)]
        record = self.agent(agent.decode())
        if record is not None and self.status(record.id)[0] is AgentStatus.AVAILABLE:
            self._index(record)
            offers.append(self.offer_for_agent(record.id, now_ms))  # the agent's slot is free again
        return [offer for offer in offers if offer is not None]

    def escalate(self, call_sid: str, skills: Mapping[str, int] | None, priority: int | None) -> bool:
        """An escalation step: the waiting call's requirements become ``skills`` and/or its priority
        ``priority``, keeping its arrival time. False when the call is no longer waiting."""
        queue = self.redis.hget(keys.CALL_QUEUE, call_sid)
        if queue is None or self.call_state(call_sid) != "waiting":
            return False
        pipe = self.redis.pipeline(transaction=True)
        if skills is not None:
            # the caller's language is not relaxed: it stays a requirement whatever the step says
            kept = [part for part in (self.redis.hget(keys.CALL_REQ, call_sid) or b"").decode().split(";")
                    if part.startswith(LANGUAGE_PREFIX)]
            relaxed = [f"{s}={int(level)}" for s, level in skills.items() if not s.startswith(LANGUAGE_PREFIX)]
            pipe.hset(keys.CALL_REQ, call_sid, ";".join(sorted(relaxed + kept)))
        if priority is not None:
            since = int(self.redis.hget(keys.CALL_SINCE, call_sid) or _now_ms())
            score = (100 - max(0, min(100, priority))) * PRIORITY_WEIGHT + since
            pipe.hset(keys.CALL_SCORE, call_sid, score)
            pipe.zadd(keys.waiting(queue.decode()), {call_sid: score}, xx=True)
        pipe.execute()
        return True

    def offers_for(self, agent_id: str) -> list[Offer]:
        """The offers waiting for this agent's answer."""
        offers = []
        for rid, raw in self.redis.hgetall(keys.RESERVATIONS).items():
            sid, agent, expires = raw.decode().split("|")
            if agent == agent_id:
                offers.append(Offer(rid.decode(), sid, agent, int(expires)))
        return sorted(offers, key=lambda o: o.expires)

    def assigned_agent(self, call_sid: str) -> str | None:
        raw = self.redis.hget(keys.CALL_AGENT, call_sid)
        return raw.decode() if raw is not None else None

    def position(self, call_sid: str) -> int | None:
        """1-based place of a waiting call in its queue."""
        queue = self.redis.hget(keys.CALL_QUEUE, call_sid)
        if queue is None:
            return None
        rank = self.redis.zrank(keys.waiting(queue.decode()), call_sid)
        return rank + 1 if rank is not None else None

    def signed_in(self) -> int:
        """Agents not offline (available, busy, wrap-up or on break)."""
        return sum(1 for status in self.redis.hvals(keys.AGENT_STATUS) if status != b"offline")

    def hangup(self, call_sid: str, now_ms: int | None = None) -> Offer | None:
        """The caller is gone, wherever the call was: waiting (leaves the queue), offered (the offer is
        cancelled) or assigned (the agent's slot frees up; returns their next offer, if any)."""
        state = self.call_state(call_sid)
        if state == "waiting":
            self.abandon(call_sid, now_ms)
        elif state == "offered":
            rid = self.redis.hget(keys.CALL_OFFER, call_sid)
            if rid is not None:
                return next(iter(self.cancel(rid.decode(), now_ms)), None)
        elif state == "assigned":
            return self.finish(call_sid, now_ms)
        return None

    def move(self, call_sid: str, queue: str, now_ms: int | None = None) -> Offer | None:
        """A waiting call overflows into ``queue``, keeping its place (arrival time and priority)."""
        old = self.redis.hget(keys.CALL_QUEUE, call_sid)
        if old is None or self.call_state(call_sid) != "waiting":
            return None
        score = self.redis.hget(keys.CALL_SCORE, call_sid)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(keys.waiting(old.decode()), call_sid)
        pipe.hset(keys.CALL_QUEUE, call_sid, queue)
        pipe.zadd(keys.waiting(queue), {call_sid: float(score)})
        pipe.sadd(keys.QUEUE_NAMES, queue)
        pipe.execute()
        return self.offer_for_call(call_sid, now_ms)

    def leave(self, call_sid: str) -> bool:
        """Take a waiting call out of its queue (maximum wait reached); False when it was not waiting."""
        queue = self.redis.hget(keys.CALL_QUEUE, call_sid)
        if queue is None or self.call_state(call_sid) != "waiting":
            return False
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_STATE, call_sid, "ended")
        pipe.zrem(keys.waiting(queue.decode()), call_sid)
        pipe.execute()
        return True

    def abandon(self, call_sid: str, now_ms: int | None = None) -> None:
        """The caller hung up while waiting: the call leaves its queue."""
        queue = self.redis.hget(keys.CALL_QUEUE, call_sid)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.CALL_STATE, call_sid, "ended")
        if queue is not None:
            pipe.zrem(keys.waiting(queue.decode()), call_sid)
            pipe.hincrby(keys.queue_stats(queue.decode(), _day(now_ms or _now_ms())), "abandoned", 1)
        pipe.execute()

    def queue_stats(self, queue: str, now_ms: int | None = None) -> dict[str, Any]:
        """Live figures of a queue: calls waiting, longest wait, and today's service level, abandon rate and
        average speed of answer."""
        now = now_ms if now_ms is not None else _now_ms()
        waiting = self.waiting(queue)
        since = [int(v) for v in self.redis.hmget(keys.CALL_SINCE, waiting) if v is not None] if waiting else []
        raw = {k.decode(): int(v) for k, v in self.redis.hgetall(keys.queue_stats(queue, _day(now))).items()}
        answered, abandoned = raw.get("answered", 0), raw.get("abandoned", 0)
        finished = answered + abandoned
        return {"queue": queue, "waiting": len(waiting), "longest_wait_s": (now - min(since)) // 1000 if since else 0,
                "entered_today": raw.get("entered", 0), "answered_today": answered, "abandoned_today": abandoned,
                "service_level": round(raw.get("answered_in_sl", 0) / finished, 3) if finished else None,
                "abandon_rate": round(abandoned / finished, 3) if finished else None,
                "average_speed_of_answer_s": round(raw.get("wait_ms", 0) / answered / 1000, 1) if answered else None}

    def agents_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in self.redis.hvals(keys.AGENT_STATUS):
            counts[status.decode()] = counts.get(status.decode(), 0) + 1
        return counts

    def end_offer(self, reservation: str, outcome: Outcome,
                  now_ms: int | None = None) -> tuple[Offer | None, list[Offer]]:
        """End an offer (declined, timed out or cancelled); returns (the offer that ended, or None when it was
        already gone; the new offers: the call to its next agent, then the freed agent to their next call)."""
        now = now_ms if now_ms is not None else _now_ms()
        raw = self.redis.hget(keys.RESERVATIONS, reservation)
        if raw is None:
            return None, []
        sid = raw.decode().split("|")[0]
        queue = (self.redis.hget(keys.CALL_QUEUE, sid) or b"").decode()
        result = self._release(keys=[*COMMON, keys.waiting(queue), keys.AGENT_MISSED],
                               args=[reservation, outcome.value, now, _arg(self.max_missed)])
        if not result:
            return None, []
        call_sid, agent_id, status = (part.decode() for part in result)
        ended = Offer(reservation, call_sid, agent_id, int(raw.decode().split("|")[2]))
        self.emit(agent_id, "offer-ended", reservation=reservation, call_sid=call_sid, outcome=outcome.value)
        if status == AgentStatus.BREAK.value and outcome is Outcome.TIMEOUT:
            self.emit(agent_id, "status", status=status, reason="missed offers")
        offers = []
        if outcome is not Outcome.CANCELLED:
            offers.append(self.offer_for_call(call_sid, now))
        if status == AgentStatus.AVAILABLE.value:
            record = self.agent(agent_id)
            if record is not None:
                self._index(record)
                offers.append(self.offer_for_agent(agent_id, now))  # their slot is free: their next call
        return ended, [offer for offer in offers if offer is not None]


STATS_TTL = 40 * 86400
DEFAULT_SETTINGS = {"offer_timeout_ms": 15_000, "max_missed": 3, "wrap_up_ms": 30_000}
EVENTS_KEPT = 200


def _day(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


def _now_ms() -> int:
    return int(time.time() * 1000)


#: Languages are matched as internal skills ``lang:<primary subtag>`` at level 1: an agent's languages are added to
#: their skills in Redis, a call's language to its requirements, so the scripts and indexes need nothing more.
#: (Skill names in queues.yaml cannot contain ':'.)
LANGUAGE_PREFIX = "lang:"


def language_skill(language: str) -> str:
    """The internal skill of a language: ``es-US``, ``es`` and ``ES_mx`` are all ``lang:es``."""
    return LANGUAGE_PREFIX + language.strip().replace("_", "-").split("-")[0].lower()


def _levels(agent: Agent) -> dict[str, int]:
    """An agent's skills as stored for matching: their skills and their languages."""
    return {**{s: int(level) for s, level in agent.skills.items()},
            **{language_skill(language): 1 for language in agent.languages if language.strip()}}


def _parse_req(raw: bytes | None) -> dict[str, int]:
    """A stored requirement (``billing=3;lang:es=1``) as skill: minimum level."""
    levels = {}
    for part in (raw or b"").decode().split(";"):
        if part:
            skill, level = part.split("=")
            levels[skill] = int(level)
    return levels


def _arg(value: int | None) -> int | str:
    """A script argument that may be left to the live setting ('')."""
    return "" if value is None else value


def _reservation_id() -> str:
    return "WR" + secrets.token_hex(12)


def _offer(result: Any) -> Offer | None:
    if not result:
        return None
    rid, sid, agent, expires = (part.decode() if isinstance(part, bytes) else part for part in result)
    return Offer(rid, sid, agent, int(expires))


def agents_from(data: Iterable[Mapping[str, Any]]) -> list[Agent]:
    """Agents from plain data (for example a YAML roster)."""
    return [Agent(str(a["id"]), str(a.get("name", a["id"])), dict(a.get("skills", {})),
                  tuple(a.get("languages", ())), int(a.get("capacity", 1)), str(a.get("contact", "")))
            for a in data]
