"""Branch conditions: structured data, parsed with precise problems, evaluated purely."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.flowlang.conditions import Context, parse_condition
from ivr.flowlang.schedule import parse_schedule

NY = ZoneInfo("America/New_York")
SCHEDULES = {"office": parse_schedule({"timezone": "America/New_York", "weekly": {"mon-fri": "09:00-17:00"}})}


def check(raw, variables=None, now=datetime(2026, 11, 23, 10, 0, tzinfo=NY)) -> bool:
    problems: list = []
    cond = parse_condition(raw, ("when",), problems)
    assert problems == [] and cond is not None
    return cond.evaluate(Context(variables or {}, now, SCHEDULES))


@pytest.mark.parametrize("raw,variables,expected", [
    ({"var": "x", "equals": 5}, {"x": "5"}, True),
    ({"var": "x", "equals": "05"}, {"x": 5}, False),          # text compares as text
    ({"var": "x", "not_equals": "a"}, {"x": "b"}, True),
    ({"var": "x", "in": ["a", "b"]}, {"x": "b"}, True),
    ({"var": "x", "not_in": ["a", "b"]}, {"x": "b"}, False),
    ({"var": "x", "gt": 100}, {"x": "100.5"}, True),
    ({"var": "x", "lte": 100}, {"x": "abc"}, False),          # not a number: never true
    ({"var": "x", "empty": True}, {}, True),
    ({"var": "x", "empty": False}, {"x": " "}, False),
    ({"var": "x", "matches": "^07[0-9]+$"}, {"x": "0712"}, True),
    ({"var": "caller", "starts_with": "+44"}, {"caller": "+447700"}, True),
    ({"var": "account.status", "equals": "suspended"}, {"account": {"status": "suspended"}}, True),
    ({"not": {"var": "x", "equals": 1}}, {"x": 1}, False),
    ({"any": [{"var": "x", "equals": 1}, {"var": "y", "equals": 2}]}, {"y": 2}, True),
    ({"all": [{"var": "x", "equals": 1}, {"var": "y", "equals": 2}]}, {"y": 2}, False),
])
def test_variable_conditions(raw, variables, expected):
    assert check(raw, variables) is expected


@pytest.mark.parametrize("raw,hour,weekday_offset,expected", [
    ({"time": {"from": "09:00", "to": "17:00"}}, 10, 0, True),
    ({"time": {"from": "22:00", "to": "06:00"}}, 23, 0, True),  # overnight
    ({"time": {"from": "22:00", "to": "06:00"}}, 12, 0, False),
    ({"day": "fri-mon"}, 10, 0, True),                          # Monday, in a wrapping range
    ({"day": ["sat", "sun"]}, 10, 0, False),
    ({"day": ["sat", "sun"]}, 10, 5, True),
    ({"date": {"from": "2026-11-20", "to": "2026-11-30"}}, 10, 0, True),
    ({"date": "2026-12-25"}, 10, 0, False),
    ({"open": "office"}, 10, 0, True),
    ({"open": "office"}, 18, 0, False),
])
def test_clock_conditions(raw, hour, weekday_offset, expected):
    now = datetime(2026, 11, 23 + weekday_offset, hour, 0, tzinfo=NY)
    assert check(raw, now=now) is expected


@pytest.mark.parametrize("raw,message", [
    ({"var": "x", "greater": 1}, "unknown comparison 'greater'"),
    ({"var": "x", "gt": 1, "lt": 5}, "needs exactly one of"),
    ({"var": "x", "gt": "many"}, "expected a number"),
    ({"var": "x", "matches": "(["}, "bad pattern"),
    ({"time": {"from": "25:00", "to": "06:00"}}, "'25:00' is not a time"),
    ({"day": "funday"}, "is not a day list"),
    ({"date": "2026-13-01"}, "is not a date"),
    ({"all": [{"var": "x", "equals": 1}], "var": "y"}, "'all'/'any' must be alone"),
    ({}, "a condition is a mapping"),
    ({"tim": {"from": "09:00", "to": "10:00"}}, "unknown condition 'tim' (did you mean 'time'?)"),
])
def test_problems_are_precise(raw, message):
    problems: list = []
    assert parse_condition(raw, ("when",), problems) is None
    assert any(message in text for _path, text in problems), problems


def test_referenced_variables_and_schedules():
    problems: list = []
    cond = parse_condition({"all": [{"var": "a.b", "equals": 1}, {"not": {"open": "office"}}]}, (), problems)
    assert cond.variables() == {"a.b"} and cond.schedules() == {"office"}
