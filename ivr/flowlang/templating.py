"""Safe templating for prompts and URLs in supervisor-written flows.

``{{ name }}``, ``{{ account.balance | money }}``, ``{{ number | last:4 }}``: dictionary lookups and a fixed set of
filters, nothing else — no expressions, no attribute access on objects, no code. Values are cleaned (control
characters removed, length capped) so caller-supplied input cannot balloon or break a prompt; for URLs each value
is percent-encoded so it cannot change the path or the query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Mapping
from urllib.parse import quote

from ivr.errors import IvrError

MAX_VALUE_CHARS = 500
_TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
_CURRENCIES = {"USD": ("dollar", "dollars", "cent", "cents"), "EUR": ("euro", "euros", "cent", "cents"),
               "GBP": ("pound", "pounds", "penny", "pence"), "CAD": ("dollar", "dollars", "cent", "cents")}


class TemplateError(IvrError):
    """A template that cannot be parsed; ``column`` is 1-based within the template text."""

    def __init__(self, message: str, column: int = 1):
        self.column = column
        super().__init__(f"{message} (column {column})")


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _money(value: Any, arg: str | None) -> str:
    amount = _decimal(value)
    if amount is None:
        return ""
    one, many, sub_one, sub_many = _CURRENCIES.get((arg or "USD").upper(), _CURRENCIES["USD"])
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "minus " if amount < 0 else ""
    whole, cents = divmod(abs(amount) * 100, 100)
    whole, cents = int(whole), int(cents)
    text = f"{sign}{whole:,} {one if whole == 1 else many}"
    if cents:
        text += f" and {cents} {sub_one if cents == 1 else sub_many}"
    return text


def _number(value: Any, arg: str | None) -> str:
    number = _decimal(value)
    if number is None:
        return ""
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,}"


def _date(value: Any, arg: str | None) -> str:
    try:
        day = date.fromisoformat(_text(value)[:10])
    except ValueError:
        return ""
    return f"{day:%A}, {day:%B} {day.day}"


def _time(value: Any, arg: str | None) -> str:
    try:
        moment = time.fromisoformat(_text(value)[:5])
    except ValueError:
        return ""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _last(value: Any, arg: str | None) -> str:
    count = int(arg or "4")
    text = _text(value)
    return text[-count:] if count else ""


FILTERS: dict[str, Callable[[Any, str | None], str]] = {
    "digits": lambda v, a: " ".join(ch for ch in _text(v) if ch.isdigit()),
    "spell": lambda v, a: " ".join(ch for ch in _text(v) if ch.isalnum()),
    "money": _money,
    "number": _number,
    "date": _date,
    "time": _time,
    "upper": lambda v, a: _text(v).upper(),
    "lower": lambda v, a: _text(v).lower(),
    "default": lambda v, a: _text(v) if _text(v).strip() else (a or ""),
    "last": _last,
}
#: Filters taking an argument (``name:arg``), and whether it is required.
FILTER_ARGS = {"money": False, "default": True, "last": True}


@dataclass(frozen=True)
class _Tag:
    name: str
    filters: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and tags, rendered against a mapping of variables."""

    source: str
    parts: tuple[str | _Tag, ...]

    @classmethod
    def parse(cls, text: str) -> "Template":
        parts: list[str | _Tag] = []
        pos = 0
        for match in _TAG.finditer(text):
            literal = text[pos:match.start()]
            cls._check_literal(literal, pos)
            if literal:
                parts.append(literal)
            parts.append(cls._parse_tag(match.group(1), match.start() + 3))
            pos = match.end()
        rest = text[pos:]
        cls._check_literal(rest, pos)
        if rest:
            parts.append(rest)
        return cls(text, tuple(parts))

    @staticmethod
    def _check_literal(literal: str, offset: int) -> None:
        for marker in ("{{", "}}"):
            index = literal.find(marker)
            if index >= 0:
                raise TemplateError(f"unbalanced '{marker}'", offset + index + 1)

    @staticmethod
    def _parse_tag(inner: str, column: int) -> _Tag:
        pieces = [p.strip() for p in inner.split("|")]
        name = pieces[0]
        if not _NAME.match(name):
            raise TemplateError(f"'{name}' is not a variable name" if name else "empty '{{ }}'", column)
        filters = []
        for piece in pieces[1:]:
            fname, sep, arg = piece.partition(":")
            fname, arg = fname.strip(), arg.strip()
            if fname not in FILTERS:
                import difflib
                close = difflib.get_close_matches(fname, list(FILTERS), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise TemplateError(f"unknown filter '{fname}'{hint}; filters: {', '.join(FILTERS)}", column)
            if sep and fname not in FILTER_ARGS:
                raise TemplateError(f"filter '{fname}' takes no argument", column)
            if not sep and FILTER_ARGS.get(fname):
                raise TemplateError(f"filter '{fname}' needs an argument, as in {fname}:...", column)
            if fname == "last" and not arg.isdigit():
                raise TemplateError("last:N needs a whole number", column)
            if fname == "money" and sep and arg.upper() not in _CURRENCIES:
                raise TemplateError(f"unknown currency '{arg}'; use one of {', '.join(_CURRENCIES)}", column)
            filters.append((fname, arg if sep else None))
        return _Tag(name, tuple(filters))

    @property
    def names(self) -> frozenset[str]:
        """Top-level variable names referenced (``account`` for ``{{account.balance}}``)."""
        return frozenset(p.name.split(".")[0] for p in self.parts if isinstance(p, _Tag))

    @property
    def dotted_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.parts if isinstance(p, _Tag))

    @property
    def is_literal(self) -> bool:
        return not any(isinstance(p, _Tag) for p in self.parts)

    def render(self, variables: Mapping[str, Any], *, for_url: bool = False) -> str:
        return self.render_with_report(variables, for_url=for_url)[0]

    def render_with_report(self, variables: Mapping[str, Any], *,
                           for_url: bool = False) -> tuple[str, list[str]]:
        """The rendered text and the names that were missing."""
        out: list[str] = []
        missing: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = lookup(variables, part.name)
            if value is None:
                missing.append(part.name)
            text: Any = value
            for fname, arg in part.filters:
                text = FILTERS[fname](text, arg)
            text = _clean(_text(text))
            out.append(quote(text, safe="") if for_url else text)
        return "".join(out), missing


def lookup(variables: Mapping[str, Any], name: str) -> Any:
    """Dotted lookup through nested mappings only (never attributes); anything else is missing (None)."""
    value: Any = variables
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _clean(text: str) -> str:
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:MAX_VALUE_CHARS]
