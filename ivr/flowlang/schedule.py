"""Business hours: a weekly schedule in a timezone, with holidays (closed or short days) and ad-hoc closures.

Pure: ``parse_schedule(raw)`` validates the YAML data (every problem at once) and ``Schedule.status(now)`` says
whether it is open, and when it opens next.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ivr.errors import IvrError
from ivr.flowlang.conditions import DAYS, parse_days

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}$")
Minutes = tuple[int, int]  # [start, end) in minutes since midnight; end may be 1440


class ScheduleError(IvrError):
    """Invalid schedule data; ``problems`` lists ``(relative path, message)``."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" if p else m for p, m in problems))


class OpenState(str, Enum):
    OPEN = "open"
    CLOSED = "closed"
    HOLIDAY = "holiday"
    CLOSURE = "closure"


@dataclass(frozen=True)
class OpenStatus:
    state: OpenState
    name: str = ""
    next_open: datetime | None = None


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str
    hours: tuple[Minutes, ...]


@dataclass(frozen=True)
class Closure:
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class Schedule:
    timezone: ZoneInfo
    weekly: tuple[tuple[Minutes, ...], ...]  # index 0 = Monday
    holidays: dict[date, Holiday]
    closures: tuple[Closure, ...]

    def _hours_on(self, day: date) -> tuple[tuple[Minutes, ...], Holiday | None]:
        holiday = self.holidays.get(day)
        if holiday is not None:
            return holiday.hours, holiday
        return self.weekly[day.weekday()], None

    def _closure_at(self, local: datetime) -> Closure | None:
        return next((c for c in self.closures if c.start <= local < c.end), None)

    def _open_at(self, local: datetime) -> bool:
        ranges, _ = self._hours_on(local.date())
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in ranges) and self._closure_at(local) is None

    def status(self, now: datetime) -> OpenStatus:
        """Open, closed, holiday or closure at ``now`` (timezone-aware), and the next opening time."""
        local = now.astimezone(self.timezone)
        closure = self._closure_at(local)
        ranges, holiday = self._hours_on(local.date())
        minute = local.hour * 60 + local.minute
        if closure is None and any(a <= minute < b for a, b in ranges):
            return OpenStatus(OpenState.OPEN, holiday.name if holiday else "")
        upcoming = self.next_open(local)
        if closure is not None:
            return OpenStatus(OpenState.CLOSURE, closure.reason, upcoming)
        if holiday is not None:
            return OpenStatus(OpenState.HOLIDAY, holiday.name, upcoming)
        return OpenStatus(OpenState.CLOSED, "", upcoming)

    def next_open(self, local: datetime, days: int = 14) -> datetime | None:
        """The first moment after ``local`` when the schedule is open (searching ``days`` ahead)."""
        for offset in range(days + 1):
            day = local.date() + timedelta(days=offset)
            ranges, _ = self._hours_on(day)
            for start, end in sorted(ranges):
                for minute in (start, *[self._minute_after(c, day) for c in self.closures]):
                    if minute is None or not start <= minute < end:
                        continue
                    candidate = datetime.combine(day, time(minute // 60, minute % 60), self.timezone)
                    if candidate > local and self._closure_at(candidate) is None:
                        return candidate
        return None

    @staticmethod
    def _minute_after(closure: Closure, day: date) -> int | None:
        end = closure.end
        return end.hour * 60 + end.minute if end.date() == day else None


def _minutes(hours: int, minutes: int) -> int | None:
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        return None
    return hours * 60 + minutes


def _ranges(raw: Any, path: str, problems: list[tuple[str, str]]) -> tuple[Minutes, ...]:
    if raw == "closed" or raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    ranges: list[Minutes] = []
    for i, item in enumerate(items):
        ipath = f"{path}[{i}]" if isinstance(raw, list) else path
        match = _RANGE.match(str(item))
        if not match:
            problems.append((ipath, f"'{item}' is not a time range like 08:00-18:00 (or 'closed')"))
            continue
        start = _minutes(int(match.group(1)), int(match.group(2)))
        end = _minutes(int(match.group(3)), int(match.group(4)))
        if start is None or end is None or start >= 1440:
            problems.append((ipath, f"'{item}' has a time that does not exist"))
        elif end <= start:
            problems.append((ipath, f"'{item}' ends before it starts"))
        else:
            ranges.append((start, end))
    ranges.sort()
    for (a1, b1), (a2, b2) in zip(ranges, ranges[1:], strict=False):
        if a2 < b1:
            problems.append((path, f"ranges overlap: {_fmt(a1)}-{_fmt(b1)} and {_fmt(a2)}-{_fmt(b2)}"))
    return tuple(ranges)


def _fmt(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), sorted(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _parse_date(raw: Any, path: str, problems: list[tuple[str, str]]) -> date | None:
    try:
        return date.fromisoformat(str(raw).strip())
    except ValueError:
        problems.append((path, f"'{raw}' is not a date (YYYY-MM-DD)"))
        return None


def _parse_local(raw: Any, tz: ZoneInfo, path: str, problems: list[tuple[str, str]]) -> datetime | None:
    text = str(raw).strip()
    if not _DATETIME.match(text):
        problems.append((path, f"'{raw}' is not a local date and time (YYYY-MM-DD HH:MM)"))
        return None
    try:
        return datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=tz)
    except ValueError:
        problems.append((path, f"'{raw}' is not a valid date and time"))
        return None


def parse_schedule(raw: Any) -> Schedule:
    """Validate and build a schedule; raise :class:`ScheduleError` listing every problem."""
    problems: list[tuple[str, str]] = []
    if not isinstance(raw, dict):
        raise ScheduleError([("", "a schedule is a mapping with timezone, weekly, holidays and closures")])
    for key in raw:
        if key not in ("timezone", "weekly", "holidays", "closures"):
            problems.append((key, f"unknown key '{key}'{_suggest(key, ['timezone', 'weekly', 'holidays', 'closures'])}"))
    tz = ZoneInfo("UTC")
    if "timezone" not in raw:
        problems.append(("", "missing required key 'timezone'"))
    else:
        try:
            tz = ZoneInfo(str(raw["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(("timezone", f"unknown timezone '{raw['timezone']}'"
                                         f"{_suggest(raw['timezone'], available_timezones())}"))
    weekly: list[tuple[Minutes, ...]] = [()] * 7
    seen_days: set[int] = set()
    weekly_raw = raw.get("weekly") or {}
    if not isinstance(weekly_raw, dict):
        problems.append(("weekly", "expected a mapping of days to hours"))
        weekly_raw = {}
    for day_key, hours in weekly_raw.items():
        path = f"weekly.{day_key}"
        days = parse_days(day_key)
        if days is None:
            bad = [d for d in re.split(r"[,\-]", str(day_key)) if d.strip().lower() not in DAYS]
            problems.append((path, f"'{day_key}' is not a day or range of days"
                                   f"{_suggest(bad[0].strip().lower(), DAYS) if bad else ''}"))
            continue
        for d in days & seen_days:
            problems.append((path, f"{DAYS[d]} is given twice"))
        seen_days |= days
        ranges = _ranges(hours, path, problems)
        for d in days:
            weekly[d] = ranges
    holidays: dict[date, Holiday] = {}
    for i, item in enumerate(raw.get("holidays") or []):
        path = f"holidays[{i}]"
        if isinstance(item, dict):
            for key in item:
                if key not in ("date", "hours", "name"):
                    problems.append((f"{path}.{key}", f"unknown key '{key}'{_suggest(key, ['date', 'hours', 'name'])}"))
            day = _parse_date(item.get("date"), f"{path}.date", problems)
            ranges = _ranges(item.get("hours"), f"{path}.hours", problems) if "hours" in item else ()
            name = str(item.get("name") or "a holiday")
        else:
            day, ranges, name = _parse_date(item, path, problems), (), "a holiday"
        if day is not None:
            if day in holidays:
                problems.append((path, f"{day} is listed twice"))
            holidays[day] = Holiday(day, name, ranges)
    closures: list[Closure] = []
    for i, item in enumerate(raw.get("closures") or []):
        path = f"closures[{i}]"
        if not isinstance(item, dict) or "from" not in item or "to" not in item:
            problems.append((path, "expected {from: 'YYYY-MM-DD HH:MM', to: 'YYYY-MM-DD HH:MM', reason: ...}"))
            continue
        start = _parse_local(item["from"], tz, f"{path}.from", problems)
        end = _parse_local(item["to"], tz, f"{path}.to", problems)
        if start and end:
            if end <= start:
                problems.append((f"{path}.to", "ends before it starts"))
            else:
                closures.append(Closure(start, end, str(item.get("reason") or "a closure")))
    if problems:
        raise ScheduleError(problems)
    return Schedule(tz, tuple(weekly), holidays, tuple(closures))
