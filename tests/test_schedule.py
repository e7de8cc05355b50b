"""Business hours: weekly schedules, holidays, closures, time zones and DST."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ivr.flowlang.schedule import OpenState, ScheduleError, parse_schedule

OFFICE = {
    "timezone": "America/New_York",
    "weekly": {"mon-fri": "08:00-18:00", "sat": ["09:00-12:00", "13:00-15:00"], "sun": "closed"},
    "holidays": ["2026-12-25", {"date": "2026-12-24", "hours": "08:00-12:00", "name": "Christmas Eve"}],
    "closures": [{"from": "2026-11-30 17:00", "to": "2026-12-01 10:00", "reason": "maintenance"}],
}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def office():
    return parse_schedule(OFFICE)


@pytest.mark.parametrize("when,state,name", [
    (utc(2026, 11, 23, 14, 0), OpenState.OPEN, ""),             # Monday 09:00 EST
    (utc(2026, 11, 23, 12, 59), OpenState.CLOSED, ""),          # Monday 07:59
    (utc(2026, 11, 23, 23, 0), OpenState.CLOSED, ""),           # Monday 18:00: ranges end before 'to'
    (utc(2026, 11, 28, 17, 30), OpenState.CLOSED, ""),          # Saturday lunch break 12:30
    (utc(2026, 11, 28, 18, 30), OpenState.OPEN, ""),            # Saturday 13:30
    (utc(2026, 11, 29, 15, 0), OpenState.CLOSED, ""),           # Sunday
    (utc(2026, 12, 25, 15, 0), OpenState.HOLIDAY, "a holiday"),
    (utc(2026, 12, 24, 15, 0), OpenState.OPEN, "Christmas Eve"),  # short day, morning
    (utc(2026, 12, 24, 18, 0), OpenState.HOLIDAY, "Christmas Eve"),  # short day, 13:00
    (utc(2026, 11, 30, 23, 0), OpenState.CLOSURE, "maintenance"),
    (utc(2026, 12, 1, 14, 30), OpenState.CLOSURE, "maintenance"),  # Tuesday 09:30, still closed
])
def test_status(office, when, state, name):
    status = office.status(when)
    assert status.state is state and status.name == name


def test_next_open_skips_closures_and_holidays(office):
    local = office.status(utc(2026, 11, 30, 23, 0)).next_open
    assert local.isoformat() == "2026-12-01T10:00:00-05:00"  # the closure ends mid-morning
    christmas = office.status(utc(2026, 12, 25, 15, 0)).next_open
    assert christmas.isoformat() == "2026-12-26T09:00:00-05:00"  # Saturday hours
    assert office.status(utc(2026, 11, 23, 14, 0)).next_open is None  # open now


def test_ranges_may_end_at_midnight():
    late = parse_schedule({"timezone": "UTC", "weekly": {"mon-sun": "20:00-24:00"}})
    assert late.status(utc(2026, 11, 23, 23, 59)).state is OpenState.OPEN
    assert late.status(utc(2026, 11, 24, 0, 0)).state is OpenState.CLOSED


@pytest.mark.parametrize("when,state", [
    (utc(2026, 3, 8, 12, 30), OpenState.OPEN),    # after the spring change: 08:30 EDT
    (utc(2026, 3, 7, 12, 30), OpenState.CLOSED),  # Saturday before: 07:30 EST
    (utc(2026, 11, 2, 12, 30), OpenState.CLOSED),  # Monday after the autumn change: 07:30 EST
    (utc(2026, 11, 2, 13, 30), OpenState.OPEN),    # 08:30 EST
])
def test_daylight_saving_time(when, state):
    everyday = parse_schedule({"timezone": "America/New_York", "weekly": {"mon-sun": "08:00-18:00"}})
    assert everyday.status(when).state is state


def test_every_problem_is_reported_at_once():
    with pytest.raises(ScheduleError) as info:
        parse_schedule({
            "timezone": "America/New_Yrok",
            "weekly": {"mon-fri": "08:00-25:00", "sat": "12:00-09:00", "sunday": "closed",
                       "wed": "10:00-11:00", "thu": ["09:00-12:00", "11:00-13:00"]},
            "holidays": ["2026-02-30"],
            "closures": [{"from": "2026-12-02 10:00", "to": "2026-12-01 10:00"}],
            "hollidays": [],
        })
    problems = dict(info.value.problems)
    assert problems["timezone"] == "unknown timezone 'America/New_Yrok' (did you mean 'America/New_York'?)"
    assert problems["weekly.mon-fri"] == "'08:00-25:00' has a time that does not exist"
    assert problems["weekly.sat"] == "'12:00-09:00' ends before it starts"
    assert problems["weekly.sunday"].startswith("'sunday' is not a day or range of days")
    assert problems["weekly.wed"] == "wed is given twice"
    assert problems["weekly.thu"] == "ranges overlap: 09:00-12:00 and 11:00-13:00"
    assert problems["holidays[0]"] == "'2026-02-30' is not a date (YYYY-MM-DD)"
    assert problems["closures[0].to"] == "ends before it starts"
    assert problems["hollidays"] == "unknown key 'hollidays' (did you mean 'holidays'?)"


def test_timezone_is_required():
    with pytest.raises(ScheduleError) as info:
        parse_schedule({"weekly": {}})
    assert ("", "missing required key 'timezone'") in info.value.problems
