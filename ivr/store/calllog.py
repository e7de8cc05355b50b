"""The call log: every call's steps and final outcome, kept in Redis for ``calllog_ttl`` seconds.

A summary hash and a list of step documents per call, and one sorted set indexing calls by start time. Status
callbacks arrive late, duplicated or out of order, so :meth:`CallLog.finish` only ever moves a call forward.
"""

from __future__ import annotations

import json
from typing import Any

import redis as redis_lib

from ivr.store import keys
from ivr.store.callsearch import BATCH, MAX_SCAN, CallQuery, SearchResult

#: The order call statuses progress in; a callback never moves a call backwards.
STATUS_RANK = {"queued": 0, "initiated": 0, "ringing": 1, "in-progress": 2, "completed": 3, "busy": 3,
               "failed": 3, "no-answer": 3, "canceled": 3}
MAX_STEPS = 500

# KEYS[1] = summary hash. ARGV: status, rank, disposition, duration, ended_at, ttl.
# Applies a final status once: a later or equal-rank status never overwrites a final one.
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'call_sid', ARGV[7])
end
local rank = tonumber(redis.call('HGET', KEYS[1], 'status_rank') or '-1')
if tonumber(ARGV[2]) <= rank then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'status_rank', ARGV[2], 'duration', ARGV[4], 'ended_at', ARGV[5])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'disposition', ARGV[3]) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
return 1
"""


# KEYS[1] = summary hash, KEYS[2] = steps list. ARGV: recording URL, final ('1'/'0'), ttl, max steps, step
# document ('' for none), then field/value pairs for the summary. Stores a recording's transcription state unless
# that recording already has a final one (a retried or duplicated job); -1 when the call's record is gone.
_TRANSCRIPTION = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local current = redis.call('HMGET', KEYS[1], 'transcript_recording', 'transcript_final')
if current[1] == ARGV[1] and current[2] == '1' then return 0 end
redis.call('HDEL', KEYS[1], 'transcript', 'transcript_confidence', 'transcript_error')
redis.call('HSET', KEYS[1], 'transcript_recording', ARGV[1], 'transcript_final', ARGV[2], unpack(ARGV, 6))
if ARGV[5] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[5])
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def _decode(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class CallLog:
    """Reads and writes the call log; ``redis`` is passed in."""

    def __init__(self, redis: redis_lib.Redis, ttl: int):
        self.redis = redis
        self.ttl = ttl
        self._finish = redis.register_script(_FINISH)
        self._transcription = redis.register_script(_TRANSCRIPTION)

    @staticmethod
    def steps_key(call_sid: str) -> str:
        """The key of the call's list of steps, for a write that must be atomic with another store's (the session
        save that logs a step's entries, :meth:`ivr.store.sessions.SessionStore.save`)."""
        return keys.call_steps(call_sid)

    def start(self, call_sid: str, *, caller: str, called: str, flow: str, version: int, started_at: float,
              pipe: redis_lib.client.Pipeline | None = None) -> None:
        """Open a call's record (queued on ``pipe`` when given, so the caller can batch round trips)."""
        target = pipe if pipe is not None else self.redis.pipeline(transaction=False)
        target.hset(keys.call_summary(call_sid), mapping={
            "call_sid": call_sid, "caller": caller, "called": called, "flow": flow, "version": version,
            "started_at": started_at})
        target.expire(keys.call_summary(call_sid), self.ttl)
        target.zadd(keys.CALL_INDEX, {call_sid: started_at})
        if pipe is None:
            target.execute()

    def add_steps(self, call_sid: str, steps: list[dict[str, Any]],
                  pipe: redis_lib.client.Pipeline | None = None) -> None:
        """Append steps (node, prompt, input, outcome, timings) to a call's record."""
        if not steps:
            return
        target = pipe if pipe is not None else self.redis.pipeline(transaction=False)
        target.rpush(keys.call_steps(call_sid), *(json.dumps(step, default=str) for step in steps))
        target.ltrim(keys.call_steps(call_sid), -MAX_STEPS, -1)
        target.expire(keys.call_steps(call_sid), self.ttl)
        if pipe is None:
            target.execute()

    def add_step(self, call_sid: str, step: dict[str, Any]) -> None:
        self.add_steps(call_sid, [step])

    def routing_step(self, call_sid: str, outcome: str, agent: str, at: float) -> None:
        """What happened to one offer of the call: offered to ``agent``, declined or timed out (``timeout``)."""
        self.add_steps(call_sid, [{"flow": "", "node": "", "kind": "routing", "outcome": outcome, "agent": agent,
                                   "at": at}])

    def agent_accepted(self, call_sid: str, agent: str, at: float, queue: str | None = None) -> None:
        """``agent`` took the call (summary fields ``agent``, ``accepted_at`` and, when given, ``queue``: the queue
        it was taken from; the agent's call history)."""
        pipe = self.redis.pipeline(transaction=False)
        fields: dict[str, Any] = {"agent": agent, "accepted_at": at}
        if queue:
            fields["queue"] = queue
        pipe.hset(keys.call_summary(call_sid), mapping=fields)
        pipe.zadd(keys.agent_calls(agent), {call_sid: at})
        pipe.zremrangebyscore(keys.agent_calls(agent), "-inf", at - self.ttl)
        pipe.expire(keys.agent_calls(agent), self.ttl)
        self.add_steps(call_sid, [{"flow": "", "node": "", "kind": "routing", "outcome": "accepted", "agent": agent,
                                   "at": at}], pipe=pipe)
        pipe.execute()

    def wrap_up(self, call_sid: str, agent: str, disposition: str, notes: str, at: float) -> None:
        """The agent's after-call record: summary fields ``agent_disposition``, ``agent_notes``,
        ``wrapped_up_at`` and a ``wrap-up`` step (a later wrap-up of the same call replaces the summary fields)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(keys.call_summary(call_sid), mapping={"agent_disposition": disposition, "agent_notes": notes,
                                                        "wrapped_up_at": at})
        self.add_steps(call_sid, [{"flow": "", "node": "", "kind": "wrap-up", "outcome": "wrapped-up",
                                   "agent": agent, "disposition": disposition, "notes": notes, "at": at}], pipe=pipe)
        pipe.execute()

    def agent_calls(self, agent: str, since: float, until: float = float("inf")) -> list[dict[str, Any]]:
        """Summaries of the calls ``agent`` accepted in ``[since, until]``, newest first."""
        sids = self.redis.zrevrangebyscore(keys.agent_calls(agent), until, since)
        if not sids:
            return []
        pipe = self.redis.pipeline()
        for sid in sids:
            pipe.hgetall(keys.call_summary(_decode(sid)))
        return [self._summary(summary) for summary in pipe.execute() if summary]

    def finish(self, call_sid: str, *, status: str, disposition: str | None, duration: int, ended_at: float,
               pipe: redis_lib.client.Pipeline | None = None) -> bool:
        """Record the call's final status; True when it changed the record (idempotent, order-proof). On
        ``pipe`` the result comes back from ``pipe.execute()``."""
        rank = STATUS_RANK.get(status, -1)
        if rank < 0:
            return False
        return bool(self._finish(keys=[keys.call_summary(call_sid)],
                                 args=[status, rank, disposition or "", duration, ended_at, self.ttl, call_sid],
                                 client=pipe or self.redis))

    def set_transcription(self, call_sid: str, recording: str, fields: dict[str, Any], *, final: bool,
                          step: dict[str, Any] | None = None) -> int:
        """Store the transcription of a call's recording (``transcript_*`` fields, and ``step`` on the steps).
        A recording whose transcription is final is never changed again: 1 when stored, 0 when it was already
        final, -1 when the call's record no longer exists."""
        pairs = [str(item) for key, value in fields.items() if value is not None for item in (key, value)]
        return int(self._transcription(
            keys=[keys.call_summary(call_sid), keys.call_steps(call_sid)],
            args=[recording, "1" if final else "0", self.ttl, MAX_STEPS,
                  json.dumps(step, default=str) if step else "", *pairs]))

    def transcription_final(self, call_sid: str, recording: str) -> bool:
        """Has this recording already been transcribed (or given up on)?"""
        stored, final = self.redis.hmget(keys.call_summary(call_sid), "transcript_recording", "transcript_final")
        return _decode(stored) == recording and _decode(final) == "1"

    def get(self, call_sid: str) -> dict[str, Any] | None:
        pipe = self.redis.pipeline()
        pipe.hgetall(keys.call_summary(call_sid))
        pipe.lrange(keys.call_steps(call_sid), 0, -1)
        summary, steps = pipe.execute()
        if not summary:
            return None
        record = self._summary(summary)
        record["steps"] = [json.loads(s) for s in steps]
        return record

    def list(self, limit: int = 50, offset: int = 0, since: float | None = None) -> list[dict[str, Any]]:
        """Calls newest first (entries whose record expired are dropped from the index as they are met)."""
        low = since if since is not None else "-inf"
        sids = self.redis.zrevrangebyscore(keys.CALL_INDEX, "+inf", low, start=offset, num=limit)
        if not sids:
            return []
        pipe = self.redis.pipeline()
        for sid in sids:
            pipe.hgetall(keys.call_summary(_decode(sid)))
        calls, expired = [], []
        for sid, summary in zip(sids, pipe.execute(), strict=True):
            if summary:
                calls.append(self._summary(summary))
            else:
                expired.append(sid)
        if expired:
            self.redis.zrem(keys.CALL_INDEX, *expired)
        return calls

    def search(self, query: CallQuery, *, limit: int = 50, offset: int = 0, cap: int = MAX_SCAN,
               batch: int = BATCH) -> SearchResult:
        """Calls matching ``query``, newest first: the page ``[offset, offset + limit)`` of the matches. Reads the
        index over the query's time range in batches and stops once the page (and whether another follows) is
        known, or after ``cap`` calls (``capped``: narrow the search). Expired entries are dropped from the index."""
        high = query.until if query.until is not None else "+inf"
        low = query.since if query.since is not None else "-inf"
        needed = offset + limit + 1
        matches: list[dict[str, Any]] = []
        expired: list[Any] = []
        position = scanned = 0
        capped = False
        while len(matches) < needed:
            if scanned >= cap:
                # the cap is only a problem when the range holds more calls than were read
                capped = bool(self.redis.zrevrangebyscore(keys.CALL_INDEX, high, low, start=position, num=1))
                break
            sids = self.redis.zrevrangebyscore(keys.CALL_INDEX, high, low, start=position,
                                               num=min(batch, cap - scanned))
            if not sids:
                break
            position += len(sids)
            pipe = self.redis.pipeline(transaction=False)
            for sid in sids:
                pipe.hgetall(keys.call_summary(_decode(sid)))
            for sid, raw in zip(sids, pipe.execute(), strict=True):
                scanned += 1
                if not raw:
                    expired.append(sid)
                    continue
                record = self._summary(raw)
                if query.matches(record):
                    matches.append(record)
        if expired:  # only now: removing them while reading would shift the positions read next
            self.redis.zrem(keys.CALL_INDEX, *expired)
        return SearchResult(matches[offset:offset + limit], offset, limit, len(matches) > offset + limit, capped,
                            scanned)

    @staticmethod
    def _summary(raw: dict[Any, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {_decode(k): _decode(v) for k, v in raw.items()}
        record.pop("status_rank", None)
        record.pop("transcript_final", None)
        for field in ("started_at", "ended_at", "transcript_confidence", "accepted_at", "wrapped_up_at"):
            if field in record:
                record[field] = float(record[field])
        for field in ("version", "duration"):
            if field in record and str(record[field]).lstrip("-").isdigit():
                record[field] = int(record[field])
        record.setdefault("status", None)
        record.setdefault("disposition", None)
        return record
