"""The atomic steps as Python calls: each Lua script of :mod:`routing.scripts` with every key it touches declared."""

from __future__ import annotations

import secrets
from typing import Any, Iterable

import redis as redis_lib

from routing import keys, scripts
from routing.model import Offer

COMMON = [keys.CALL_REQ, keys.CALL_STATE, keys.CALL_SCORE, keys.CALL_QUEUE, keys.CALL_DECLINED, keys.AGENT_STATUS,
          keys.AGENT_LOAD, keys.AGENT_CAPACITY, keys.AGENT_SKILLS, keys.RESERVATIONS, keys.OFFER_EXPIRY,
          keys.AGENT_IDLE, keys.CALL_OFFER, keys.SETTINGS]
CALLBACK_KEYS = [keys.CALL_STATE, keys.CALLBACKS, keys.CALLBACKS_CALLING, keys.CALL_SCORE]


class Claims:
    """The scripts, registered on one Redis. Settings left as None (offer timeout, missed offers before a break)
    are read by the scripts from the live configuration."""

    def __init__(self, redis: redis_lib.Redis):
        self._offer_for_call = redis.register_script(scripts.OFFER_FOR_CALL)
        self._offer_for_agent = redis.register_script(scripts.OFFER_FOR_AGENT)
        self._release = redis.register_script(scripts.RELEASE)
        self._accept = redis.register_script(scripts.ACCEPT)
        self._finish = redis.register_script(scripts.FINISH)
        self._requeue = redis.register_script(scripts.REQUEUE)
        self._callback_state = redis.register_script(scripts.CALLBACK_STATE)

    def offer_for_call(self, call_sid: str, queue: str, indexes: Iterable[str], now: int,
                       offer_timeout_ms: int | None, batch: int, scan_limit: int) -> Offer | None:
        """Reserve the call and the agent the queue's strategy picks from the availability ``indexes``."""
        return _offer(self._offer_for_call(
            keys=[*COMMON, keys.waiting(queue), keys.AGENT_LAST_OFFER, keys.QUEUE_STRATEGY, *indexes],
            args=[call_sid, now, _reservation_id(), _arg(offer_timeout_ms), batch, scan_limit, queue]))

    def peek_for_call(self, call_id: str, queue: str, indexes: Iterable[str], now: int,
                      offer_timeout_ms: int | None, batch: int, scan_limit: int) -> str | None:
        """The agent :meth:`offer_for_call` would pick for a callback request, reserving nothing."""
        result = self._offer_for_call(
            keys=[*COMMON, keys.waiting(queue), keys.AGENT_LAST_OFFER, keys.QUEUE_STRATEGY, *indexes],
            args=[call_id, now, "", _arg(offer_timeout_ms), batch, scan_limit, queue, "peek"])
        return result[2].decode() if result else None

    def offer_for_agent(self, agent_id: str, queues: Iterable[str], now: int, offer_timeout_ms: int | None,
                        batch: int) -> Offer | None:
        """Reserve the agent and the best waiting call of ``queues`` they qualify for."""
        return _offer(self._offer_for_agent(
            keys=[*COMMON, *(keys.waiting(q) for q in queues)],
            args=[agent_id, now, _reservation_id(), _arg(offer_timeout_ms), batch]))

    def release(self, reservation: str, queue: str, outcome: str, now: int,
                max_missed: int | None) -> tuple[str, str, str] | None:
        """End an offer: ``(call_sid, agent_id, the agent's status now)``, or None when it was already gone."""
        result = self._release(keys=[*COMMON, keys.waiting(queue), keys.AGENT_MISSED],
                               args=[reservation, outcome, now, _arg(max_missed)])
        if not result:
            return None
        call_sid, agent_id, status = (part.decode() for part in result)
        return call_sid, agent_id, status

    def accept(self, reservation: str, agent_id: str) -> str | None:
        """The call of the agent's reservation becomes theirs: its SID, or None when the offer is gone."""
        result = self._accept(keys=[*COMMON, keys.CALL_AGENT, keys.AGENT_MISSED], args=[reservation, agent_id])
        return result[0].decode() if result else None

    def finish(self, call_sid: str, now: int) -> str | None:
        """An assigned call ends: the agent whose slot it frees, or None when it was not assigned."""
        agent = self._finish(keys=[*COMMON, keys.CALL_AGENT], args=[call_sid, now])
        return agent.decode() if agent else None

    def requeue(self, call_sid: str, queue: str) -> str | None:
        """An assigned call goes back to its place in ``queue``: the agent it leaves, or None when not assigned."""
        agent = self._requeue(keys=[*COMMON, keys.CALL_AGENT, keys.waiting(queue)], args=[call_sid])
        return agent.decode() if agent else None

    def callback_state(self, callback_id: str, action: str, now: int) -> bool:
        """``take`` a callback request to place its call, or ``return`` it to its place in line."""
        return bool(self._callback_state(keys=CALLBACK_KEYS, args=[callback_id, action, now]))


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
