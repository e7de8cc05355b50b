"""The automatic call distributor: waiting calls matched with agents and offered to them, by atomic Lua steps.

Knows nothing of flows or HTTP: it routes "a call needing {skill: level}" to "an agent having them". Every claim is
one script that takes a waiting call and a qualified agent together, so no call is offered to two agents and no
agent gets more calls than their capacity, whatever runs concurrently. The values it deals in are in
:mod:`routing.model`; agents are kept by :mod:`routing.registry`, callback requests by :mod:`routing.callbacks`, the
scripts called through :mod:`routing.claims`, queue counters in :mod:`routing.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import redis as redis_lib

from routing import keys
from routing.callbacks import CallbackRequests
from routing.claims import Claims
from routing.errors import RoutingError, UnknownAgent
from routing.model import LANGUAGE_PREFIX, Agent, AgentStatus, Offer, Outcome, clock_ms, language_skill
from routing.registry import AgentRegistry
from routing.stats import count_abandoned, count_answered, count_entered, figures

#: Room for priorities 0..100 in front of a millisecond arrival time in one zset score (exact in a double).
PRIORITY_WEIGHT = 10 ** 13
DEFAULT_SETTINGS = {"offer_timeout_ms": 15_000, "max_missed": 3, "wrap_up_ms": 30_000}


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
        self.registry = AgentRegistry(self.redis)
        self.claims = Claims(self.redis)
        self.callback_requests = CallbackRequests(self.redis, self.claims)

    # -- configuration -------------------------------------------------------------------------------------------
    def configure(self, offer_timeout_ms: int, max_missed: int, wrap_up_ms: int) -> None:
        """Make these the live settings (from the published queues.yaml) for every process and script."""
        self.redis.hset(keys.SETTINGS, mapping={"offer_timeout_ms": int(offer_timeout_ms),
                                               "max_missed": int(max_missed), "wrap_up_ms": int(wrap_up_ms)})

    def reset_settings(self) -> None:
        """Forget the live settings: the defaults apply again (the live flows have no queues.yaml)."""
        self.redis.delete(keys.SETTINGS)

    def settings(self) -> dict[str, int]:
        """The live settings, with the defaults for any not configured (15 s offers, 3 missed, 30 s wrap-up)."""
        raw = {k.decode(): int(v) for k, v in self.redis.hgetall(keys.SETTINGS).items()}
        return {**DEFAULT_SETTINGS, **raw}

    # -- agents (kept by the registry; becoming free is matched here) ----------------------------------------------
    def register(self, agent: Agent) -> None:
        """Create or update an agent (skills, capacity...); status is left as it is (offline for a new agent)."""
        self.registry.register(agent)

    def agent(self, agent_id: str) -> Agent | None:
        return self.registry.agent(agent_id)

    def all_agents(self) -> list[Agent]:
        return self.registry.all_agents()

    def set_status(self, agent_id: str, status: AgentStatus, now_ms: int | None = None) -> Offer | None:
        """Change an agent's status; becoming available looks for a waiting call at once."""
        agent = self.agent(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        now = now_ms if now_ms is not None else clock_ms()
        self.registry.record_status(agent_id, status, now)
        self.emit(agent_id, "status", status=status.value)
        if status is AgentStatus.AVAILABLE:
            self.registry.index(agent)
            return self.offer_for_agent(agent_id, now)
        return None

    def status(self, agent_id: str) -> tuple[AgentStatus, int]:
        """(status, load): the agent's chosen status and how many calls they hold or are offered now."""
        return self.registry.status(agent_id)

    def status_since(self, agent_id: str) -> int | None:
        return self.registry.status_since(agent_id)

    def touch(self, agent_id: str, now_ms: int | None = None) -> None:
        """The agent's console or client reported in (presence)."""
        self.registry.touch(agent_id, now_ms)

    def expire_presence(self, agent_id: str, ttl_ms: int, now_ms: int | None = None) -> int | None:
        """Sign out an agent whose console stopped reporting for ``ttl_ms``. Returns when to check again (ms),
        or None when the agent is offline (signed out now or before)."""
        now = now_ms if now_ms is not None else clock_ms()
        status, _load = self.status(agent_id)
        if status is AgentStatus.OFFLINE:
            return None
        seen = self.registry.last_seen(agent_id)
        if now - seen >= ttl_ms:
            self.set_status(agent_id, AgentStatus.OFFLINE, now)
            return None
        return seen + ttl_ms

    def emit(self, agent_id: str, kind: str, **data: Any) -> None:
        """Append an event to the agent's stream (kept short; consoles resume after the last id they saw)."""
        self.registry.emit(agent_id, kind, **data)

    def events(self, agent_id: str, after: str = "$", block_ms: int | None = None,
               count: int = 50) -> list[tuple[str, str, dict[str, Any]]]:
        """Events after id ``after`` (``0``: all kept, ``$``: only new), waiting up to ``block_ms`` for one."""
        return self.registry.events(agent_id, after, block_ms, count)

    def last_event_id(self, agent_id: str) -> str:
        """The id of the agent's newest event (``0``: none yet), where a fresh console's stream starts."""
        return self.registry.last_event_id(agent_id)

    def wrap_up_until(self, agent_id: str, end_ms: int) -> None:
        """Note when the agent's current wrap-up ends (its timer job may be lost: see :meth:`wrap_ups_over`)."""
        self.registry.wrap_up_until(agent_id, end_ms)

    def wrap_ups_over(self, now_ms: int | None = None) -> list[str]:
        """Agents still in wrap-up after its end: the noted end, else the status change plus the live wrap-up
        time (a wrap-up chosen by the agent, or noted before this existed)."""
        now = now_ms if now_ms is not None else clock_ms()
        return self.registry.wrap_ups_over(self.settings()["wrap_up_ms"], now)

    def signed_in(self) -> int:
        """Agents not offline (available, busy, wrap-up or on break)."""
        return self.registry.signed_in()

    def agents_by_status(self) -> dict[str, int]:
        return self.registry.agents_by_status()

    # -- calls ---------------------------------------------------------------------------------------------------
    def enqueue(self, call_sid: str, queue: str, skills: Mapping[str, int], priority: int = 0,
                now_ms: int | None = None, offer: bool = True, language: str | None = None) -> Offer | None:
        """Put a call in ``queue`` needing ``skills`` (skill: minimum level) and, unless ``offer`` is false,
        offer it at once if an agent qualifies. Priority 0..100, higher first; then first come first served.
        With ``language`` (``es-US``...), only agents who speak it qualify (compared by primary subtag: ``es``)."""
        if not 0 <= priority <= 100:
            raise RoutingError(f"priority {priority} is not between 0 and 100")
        skills = {**skills, **({language_skill(language): 1} if language else {})}
        now = now_ms if now_ms is not None else clock_ms()
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
        count_entered(pipe, queue, now)
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
        return self._offered(self.claims.offer_for_call(
            call_sid, queue, _indexes(levels), now_ms if now_ms is not None else clock_ms(), self.offer_timeout_ms,
            self.batch, self.scan_limit))

    def offer_for_agent(self, agent_id: str, now_ms: int | None = None) -> Offer | None:
        """Look for the best waiting call for an agent (when they become available or their slot frees up)."""
        queues = self.queues or sorted(q.decode() for q in self.redis.smembers(keys.QUEUE_NAMES))
        if not queues:
            return None
        return self._offered(self.claims.offer_for_agent(
            agent_id, queues, now_ms if now_ms is not None else clock_ms(), self.offer_timeout_ms, self.batch))

    # -- callbacks (the requests are kept by routing.callbacks) ----------------------------------------------------
    def to_callback(self, call_sid: str, callback_id: str, record: Mapping[str, Any]) -> bool:
        """A waiting call becomes a callback request (the caller hangs up and will be called back): it leaves
        its queue and the request takes its place in line. False when not waiting."""
        return self.callback_requests.request(call_sid, callback_id, record)

    def callbacks(self) -> list[str]:
        """Callback requests waiting for an agent, in line order."""
        return self.callback_requests.waiting()

    def callback(self, callback_id: str) -> dict[str, Any] | None:
        return self.callback_requests.get(callback_id)

    def agent_for(self, callback_id: str) -> str | None:
        """An available agent who qualifies for the callback now (nobody is reserved: the callee is offered
        like any call once they answer and are back in line)."""
        queue = (self.redis.hget(keys.CALL_QUEUE, callback_id) or b"").decode()
        levels = _parse_req(self.redis.hget(keys.CALL_REQ, callback_id))
        return self.claims.peek_for_call(callback_id, queue, _indexes(levels), clock_ms(), self.offer_timeout_ms,
                                         self.batch, self.scan_limit)

    def take_callback(self, callback_id: str, now_ms: int | None = None) -> bool:
        """Claim the callback to place its call (only one job does); it counts as an attempt."""
        return self.callback_requests.take(callback_id, now_ms)

    def return_callback(self, callback_id: str) -> bool:
        """The outbound call failed or was not answered: the request goes back to its place in line."""
        return self.callback_requests.put_back(callback_id)

    def callbacks_calling_since(self, before_ms: int) -> list[str]:
        """Callbacks whose outbound call was placed before ``before_ms`` and never answered."""
        return self.callback_requests.calling_since(before_ms)

    def drop_callback(self, callback_id: str) -> None:
        """Give up on a callback (attempts exhausted)."""
        self.callback_requests.drop(callback_id)

    def callback_answered(self, callback_id: str, call_sid: str, now_ms: int | None = None) -> Offer | None:
        """The callee answered the outbound call ``call_sid``: it waits in the callback's queue at the place
        the request kept, and is offered at once if an agent qualifies. Returns that offer."""
        moved = self.callback_requests.answered(callback_id, call_sid)
        if moved is None:
            return None
        queue, req = moved
        return self.claim_for_call(call_sid, queue, _parse_req(req), now_ms)

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
        call_sid = self.claims.accept(reservation, agent_id)
        if call_sid is None:
            return False
        now = now_ms if now_ms is not None else clock_ms()
        queue, since = self.redis.hget(keys.CALL_QUEUE, call_sid), self.redis.hget(keys.CALL_SINCE, call_sid)
        if queue is not None:
            waited = max(0, now - int(since or now))
            count_answered(self.redis, queue.decode(), waited, waited <= self.service_level_ms, now)
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
            count_abandoned(self.redis, queue.decode(), now_ms or clock_ms())
        return offers

    def expire_offers(self, now_ms: int | None = None) -> list[Offer]:
        """Time out offers past their expiry; each call is offered again. Returns the new offers."""
        return [offer for _ended, new in self.expire_due(now_ms) for offer in new]

    def expire_due(self, now_ms: int | None = None) -> list[tuple[Offer, list[Offer]]]:
        """Time out offers past their expiry: each ``(offer that timed out, new offers it led to)``."""
        now = now_ms if now_ms is not None else clock_ms()
        results = []
        for rid in self.redis.zrangebyscore(keys.OFFER_EXPIRY, "-inf", now):
            ended, offers = self.end_offer(rid.decode(), Outcome.TIMEOUT, now)
            if ended is not None:
                results.append((ended, offers))
        return results

    def finish(self, call_sid: str, now_ms: int | None = None) -> Offer | None:
        """An accepted call ended: the agent's slot frees up (and they get the next call if available)."""
        now = now_ms if now_ms is not None else clock_ms()
        agent_id = self.claims.finish(call_sid, now)
        if agent_id is None:
            return None
        self.emit(agent_id, "call-ended", call_sid=call_sid)
        status, _load = self.status(agent_id)
        if status is AgentStatus.AVAILABLE:
            record = self.agent(agent_id)
            if record is not None:
                self.registry.index(record)
            return self.offer_for_agent(agent_id, now)
        return None

    def requeue(self, call_sid: str, now_ms: int | None = None) -> list[Offer]:
        """An accepted call did not reach the agent (no answer, busy): it goes back to its old place in the
        queue and is offered to the next qualified agent, if any; the agent, free again, is offered their next
        call, if any. Returns those new offers (each needs its timer)."""
        queue = (self.redis.hget(keys.CALL_QUEUE, call_sid) or b"").decode()
        agent_id = self.claims.requeue(call_sid, queue)
        if agent_id is None:
            return []
        self.emit(agent_id, "call-ended", call_sid=call_sid, requeued=True)
        offers = [self.offer_for_call(call_sid, now_ms)]
        record = self.agent(agent_id)
        if record is not None and self.status(record.id)[0] is AgentStatus.AVAILABLE:
            self.registry.index(record)
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
            since = int(self.redis.hget(keys.CALL_SINCE, call_sid) or clock_ms())
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
            count_abandoned(pipe, queue.decode(), now_ms or clock_ms())
        pipe.execute()

    def queue_stats(self, queue: str, now_ms: int | None = None) -> dict[str, Any]:
        """Live figures of a queue: calls waiting, longest wait, and today's service level, abandon rate and
        average speed of answer."""
        now = now_ms if now_ms is not None else clock_ms()
        return figures(self.redis, queue, self.waiting(queue), now)

    def end_offer(self, reservation: str, outcome: Outcome,
                  now_ms: int | None = None) -> tuple[Offer | None, list[Offer]]:
        """End an offer (declined, timed out or cancelled); returns (the offer that ended, or None when it was
        already gone; the new offers: the call to its next agent, then the freed agent to their next call)."""
        now = now_ms if now_ms is not None else clock_ms()
        raw = self.redis.hget(keys.RESERVATIONS, reservation)
        if raw is None:
            return None, []
        sid = raw.decode().split("|")[0]
        queue = (self.redis.hget(keys.CALL_QUEUE, sid) or b"").decode()
        released = self.claims.release(reservation, queue, outcome.value, now, self.max_missed)
        if released is None:
            return None, []
        call_sid, agent_id, status = released
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
                self.registry.index(record)
                offers.append(self.offer_for_agent(agent_id, now))  # their slot is free: their next call
        return ended, [offer for offer in offers if offer is not None]


def _indexes(levels: Mapping[str, int]) -> list[str]:
    """The availability indexes a claim picks its candidates from: one per required skill at its level."""
    return [keys.available(s, level) for s, level in levels.items()] or [keys.available(keys.ANY_SKILL)]


def _parse_req(raw: bytes | None) -> dict[str, int]:
    """A stored requirement (``billing=3;lang:es=1``) as skill: minimum level."""
    levels = {}
    for part in (raw or b"").decode().split(";"):
        if part:
            skill, level = part.split("=")
            levels[skill] = int(level)
    return levels
