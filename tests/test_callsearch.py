"""CallLog.search over a real Redis: number (partial digits, caller or called), time range, outcome, pages, cap."""

from __future__ import annotations

import pytest

from ivr.engine.state import Disposition
from ivr.store import keys
from ivr.store.calllog import CallLog
from ivr.store.callsearch import CallQuery, Outcome, outcome_of

T0 = 1_795_000_000.0  # a fixed moment; call i starts i minutes later


@pytest.fixture
def log(redis):
    return CallLog(redis, ttl=3600)


def place(log: CallLog, i: int, caller: str = "+15551230000", called: str = "+15550100101", *,
          status: str | None = "completed", disposition: str | None = "self-service") -> str:
    sid = f"CA{i:032d}"
    log.start(sid, caller=caller, called=called, flow="english", version=1, started_at=T0 + 60 * i)
    if status is not None:
        log.finish(sid, status=status, disposition=disposition, duration=30, ended_at=T0 + 60 * i + 30)
    return sid


def sids(result) -> list[str]:
    return [call["call_sid"] for call in result.calls]


def test_every_final_disposition_is_an_outcome():
    assert {d.value for d in Disposition} - {o.value for o in Outcome} == {"queued"}


@pytest.mark.parametrize("record, expected", [
    ({"status": None, "disposition": None}, Outcome.IN_PROGRESS),
    ({"status": "completed", "disposition": "abandoned"}, Outcome.ABANDONED),
    ({"status": "completed", "disposition": None}, Outcome.COMPLETED),
    ({"status": "busy", "disposition": None}, Outcome.BUSY),
    ({"status": "failed", "disposition": None}, Outcome.FAILED),
    ({"status": "completed", "disposition": "queued"}, Outcome.COMPLETED),
])
def test_outcome_of_a_summary(record, expected):
    assert outcome_of(record) is expected


def test_a_number_matches_on_part_of_its_digits_on_either_side(log):
    a = place(log, 0, caller="+1 (555) 123-0001")
    b = place(log, 1, caller="+15559870002")
    c = place(log, 2, caller="+15551110003", called="+15550100999")
    assert sids(log.search(CallQuery(number="1230001"))) == [a]
    assert sids(log.search(CallQuery(number="555-987"))) == [b]
    assert sids(log.search(CallQuery(number="0100999"))) == [c]  # the called number
    assert sids(log.search(CallQuery(number="555"))) == [c, b, a]  # newest first
    assert sids(log.search(CallQuery(number="4444"))) == []


def test_the_time_range_is_inclusive_at_both_ends(log):
    calls = [place(log, i) for i in range(5)]
    found = log.search(CallQuery(since=T0 + 60, until=T0 + 180))
    assert sids(found) == [calls[3], calls[2], calls[1]]
    assert sids(log.search(CallQuery(since=T0 + 240))) == [calls[4]]
    assert sids(log.search(CallQuery(until=T0))) == [calls[0]]


def test_outcomes_filter_on_disposition_then_status(log):
    done = place(log, 0)
    gone = place(log, 1, disposition="abandoned")
    mail = place(log, 2, disposition="voicemail")
    busy = place(log, 3, status="busy", disposition=None)
    live = place(log, 4, status=None)
    assert sids(log.search(CallQuery(outcome=Outcome.SELF_SERVICE))) == [done]
    assert sids(log.search(CallQuery(outcome=Outcome.ABANDONED))) == [gone]
    assert sids(log.search(CallQuery(outcome=Outcome.VOICEMAIL))) == [mail]
    assert sids(log.search(CallQuery(outcome=Outcome.BUSY))) == [busy]
    assert sids(log.search(CallQuery(outcome=Outcome.IN_PROGRESS))) == [live]
    assert sids(log.search(CallQuery(number="0000", outcome=Outcome.ABANDONED))) == [gone]


def test_pages_of_matches_across_batches(log):
    calls = [place(log, i, disposition="abandoned" if i % 3 == 0 else "self-service") for i in range(30)]
    abandoned = [sid for i, sid in reversed(list(enumerate(calls))) if i % 3 == 0]  # 10, newest first
    query = CallQuery(outcome=Outcome.ABANDONED)
    first = log.search(query, limit=4, offset=0, batch=5)
    assert sids(first) == abandoned[:4] and first.more and not first.capped
    second = log.search(query, limit=4, offset=4, batch=5)
    assert sids(second) == abandoned[4:8] and second.more
    last = log.search(query, limit=4, offset=8, batch=5)
    assert sids(last) == abandoned[8:] and not last.more and not last.capped
    assert last.scanned == 30
    # the first page stops reading as soon as its four matches and one more are known
    assert first.scanned < 30


def test_a_search_reading_more_than_the_cap_says_so(log):
    for i in range(20):
        place(log, i, caller="+15550000000")
    place(log, -1, caller="+15551239999")  # the oldest call: beyond the cap
    capped = log.search(CallQuery(number="1239999"), cap=10, batch=4)
    assert capped.calls == [] and capped.capped and capped.scanned == 10
    # a cap met exactly at the end of the range is not a problem
    whole = log.search(CallQuery(number="1239999"), cap=21, batch=4)
    assert sids(whole) == [f"CA{-1:032d}"] and not whole.capped
    narrowed = log.search(CallQuery(number="1239999", until=T0 - 1), cap=10)
    assert len(narrowed.calls) == 1 and not narrowed.capped


def test_expired_calls_are_skipped_and_dropped_from_the_index(log, redis):
    kept = place(log, 0)
    gone = place(log, 1)
    redis.delete(keys.call_summary(gone))
    assert sids(log.search(CallQuery())) == [kept]
    assert redis.zscore(keys.CALL_INDEX, gone) is None
