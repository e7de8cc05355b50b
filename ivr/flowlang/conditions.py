"""Conditions in ``branch`` nodes: structured data, never expressions.

Shapes (one per mapping)::

    {var: balance, gt: 100}          # equals, not_equals, in, not_in, gt, gte, lt, lte, empty, matches, starts_with
    {time: {from: "09:00", to: "17:00"}}   # in the flow's timezone; 'to' may be before 'from' (overnight)
    {day: [sat, sun]}  /  {day: mon-fri}
    {date: "2026-12-25"}  /  {date: {from: "2026-12-20", to: "2026-12-31"}}
    {open: office}                   # the named schedule is open now
    {all: [...]}  {any: [...]}  {not: {...}}
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Mapping, Protocol, Sequence

from ivr.flowlang.templating import lookup

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
COMPARISONS = ("equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "empty", "matches",
               "starts_with")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$|^24:00$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Problems = list[tuple[tuple[Any, ...], str]]


class ScheduleLike(Protocol):
    def status(self, now: datetime) -> Any: ...


@dataclass(frozen=True)
class Context:
    """What a condition may look at: variables, the local time of the call, the bundle's schedules."""

    variables: Mapping[str, Any]
    now: datetime
    schedules: Mapping[str, ScheduleLike]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Condition:
    """Base of every condition; ``evaluate`` is pure."""

    def evaluate(self, ctx: Context) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def variables(self) -> set[str]:
        return set()

    def schedules(self) -> set[str]:
        return set()


@dataclass(frozen=True)
class Compare(Condition):
    var: str
    op: str
    value: Any

    def evaluate(self, ctx: Context) -> bool:
        actual = lookup(ctx.variables, self.var)
        op, expected = self.op, self.value
        if op == "empty":
            is_empty = actual is None or _text(actual).strip() == ""
            return is_empty == bool(expected)
        if op in ("equals", "not_equals"):
            same = _equal(actual, expected)
            return same if op == "equals" else not same
        if op in ("in", "not_in"):
            found = any(_equal(actual, item) for item in expected)
            return found if op == "in" else not found
        if op == "matches":
            return re.fullmatch(expected, _text(actual)) is not None
        if op == "starts_with":
            return _text(actual).startswith(_text(expected))
        left, right = _number(actual), _number(expected)
        if left is None or right is None:
            return False
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]

    def variables(self) -> set[str]:
        return {self.var}


def _equal(actual: Any, expected: Any) -> bool:
    left, right = _number(actual), _number(expected)
    if left is not None and right is not None and not isinstance(expected, str):
        return left == right
    return _text(actual) == _text(expected)


@dataclass(frozen=True)
class TimeBetween(Condition):
    start: time
    end: time

    def evaluate(self, ctx: Context) -> bool:
        now = ctx.now.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end


@dataclass(frozen=True)
class DayIn(Condition):
    days: frozenset[int]

    def evaluate(self, ctx: Context) -> bool:
        return ctx.now.weekday() in self.days


@dataclass(frozen=True)
class DateBetween(Condition):
    start: date
    end: date

    def evaluate(self, ctx: Context) -> bool:
        return self.start <= ctx.now.date() <= self.end


@dataclass(frozen=True)
class ScheduleOpen(Condition):
    schedule: str

    def evaluate(self, ctx: Context) -> bool:
        status = ctx.schedules[self.schedule].status(ctx.now)
        return getattr(status.state, "value", status.state) == "open"

    def schedules(self) -> set[str]:
        return {self.schedule}


@dataclass(frozen=True)
class AllOf(Condition):
    items: tuple[Condition, ...]

    def evaluate(self, ctx: Context) -> bool:
        return all(c.evaluate(ctx) for c in self.items)

    def variables(self) -> set[str]:
        return set().union(*(c.variables() for c in self.items))

    def schedules(self) -> set[str]:
        return set().union(*(c.schedules() for c in self.items))


@dataclass(frozen=True)
class AnyOf(AllOf):
    def evaluate(self, ctx: Context) -> bool:
        return any(c.evaluate(ctx) for c in self.items)


@dataclass(frozen=True)
class Not(Condition):
    item: Condition

    def evaluate(self, ctx: Context) -> bool:
        return not self.item.evaluate(ctx)

    def variables(self) -> set[str]:
        return self.item.variables()

    def schedules(self) -> set[str]:
        return self.item.schedules()


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_days(raw: Any) -> frozenset[int] | None:
    """``mon-fri``, ``sat,sun``, ``[mon, wed]`` → weekday numbers; None when malformed."""
    items = raw if isinstance(raw, list) else str(raw).split(",")
    days: set[int] = set()
    for item in items:
        item = str(item).strip().lower()
        if "-" in item:
            first, _, last = item.partition("-")
            if first not in DAYS or last not in DAYS:
                return None
            a, b = DAYS.index(first), DAYS.index(last)
            days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        elif item in DAYS:
            days.add(DAYS.index(item))
        else:
            return None
    return frozenset(days) if days else None


def _parse_time(raw: Any) -> time | None:
    text = str(raw).strip()
    if not _TIME.match(text):
        return None
    if text == "24:00":
        return time(23, 59, 59, 999999)
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _parse_date(raw: Any) -> date | None:
    text = str(raw).strip()
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_condition(raw: Any, path: tuple[Any, ...], problems: Problems) -> Condition | None:
    """Build a condition from YAML data, appending every problem found as ``(path, message)``."""
    if not isinstance(raw, dict) or not raw:
        problems.append((path, "a condition is a mapping such as {var: x, equals: 1}, {day: mon-fri}, "
                               "{time: {from: '09:00', to: '17:00'}}, {open: schedule}, {all|any: [...]}, {not: ...}"))
        return None
    keys = set(raw)
    if keys & {"all", "any"}:
        if len(keys) != 1:
            problems.append((path, "'all'/'any' must be alone in their mapping"))
            return None
        key = next(iter(keys))
        items = raw[key]
        if not isinstance(items, list) or not items:
            problems.append((path + (key,), "expected a non-empty list of conditions"))
            return None
        parsed = [parse_condition(item, path + (key, i), problems) for i, item in enumerate(items)]
        if any(p is None for p in parsed):
            return None
        cls = AllOf if key == "all" else AnyOf
        return cls(tuple(p for p in parsed if p is not None))
    if "not" in keys:
        if len(keys) != 1:
            problems.append((path, "'not' must be alone in its mapping"))
            return None
        inner = parse_condition(raw["not"], path + ("not",), problems)
        return Not(inner) if inner else None
    if "var" in keys:
        ops = keys - {"var"}
        unknown = [k for k in ops if k not in COMPARISONS]
        for k in unknown:
            problems.append((path + (k,), f"unknown comparison '{k}'{_suggest(k, COMPARISONS)}"))
        if unknown:
            return None
        if len(ops) != 1:
            problems.append((path, f"a variable test needs exactly one of: {', '.join(COMPARISONS)}"))
            return None
        op = next(iter(ops))
        name, value = raw["var"], raw[op]
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*", name):
            problems.append((path + ("var",), f"'{name}' is not a variable name"))
            return None
        if op in ("in", "not_in") and not isinstance(value, list):
            problems.append((path + (op,), "expected a list of values"))
            return None
        if op in ("gt", "gte", "lt", "lte") and _number(value) is None:
            problems.append((path + (op,), f"expected a number, got {value!r}"))
            return None
        if op == "empty" and not isinstance(value, bool):
            problems.append((path + (op,), "expected true or false"))
            return None
        if op == "matches":
            try:
                re.compile(str(value))
            except re.error as e:
                problems.append((path + (op,), f"bad pattern: {e}"))
                return None
            value = str(value)
        return Compare(name, op, value)
    if len(keys) != 1:
        problems.append((path, f"unknown condition keys {sorted(keys)}; use one of var, time, day, date, open, "
                               "all, any, not"))
        return None
    key = next(iter(keys))
    value = raw[key]
    if key == "time":
        if not isinstance(value, dict) or set(value) != {"from", "to"}:
            problems.append((path + (key,), "expected {from: 'HH:MM', to: 'HH:MM'}"))
            return None
        start, end = _parse_time(value["from"]), _parse_time(value["to"])
        for part, parsed in (("from", start), ("to", end)):
            if parsed is None:
                problems.append((path + (key, part), f"'{value[part]}' is not a time (HH:MM, 24-hour)"))
        return TimeBetween(start, end) if start and end else None
    if key == "day":
        days = parse_days(value)
        if days is None:
            problems.append((path + (key,), f"'{value}' is not a day list: use mon..sun, ranges like mon-fri, "
                                            "or a list"))
        return DayIn(days) if days else None
    if key == "date":
        if isinstance(value, dict):
            if set(value) != {"from", "to"}:
                problems.append((path + (key,), "expected a date or {from: YYYY-MM-DD, to: YYYY-MM-DD}"))
                return None
            start_d, end_d = _parse_date(value["from"]), _parse_date(value["to"])
        else:
            start_d = end_d = _parse_date(value)
        if start_d is None or end_d is None:
            problems.append((path + (key,), f"'{value}' is not a date (YYYY-MM-DD)"))
            return None
        return DateBetween(start_d, end_d)
    if key == "open":
        if not isinstance(value, str):
            problems.append((path + (key,), "expected a schedule name"))
            return None
        return ScheduleOpen(value)
    problems.append((path + (key,), f"unknown condition '{key}'"
                     f"{_suggest(key, ('var', 'time', 'day', 'date', 'open', 'all', 'any', 'not'))}"))
    return None
