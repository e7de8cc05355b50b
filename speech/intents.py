"""Words to meaning: normalising recognised text, matching it to intents, and pulling out entities (digits,
amounts, dates) and yes/no answers. Pure functions of text (and, for dates, the day the call is on): no Vosk, no
flows, no I/O, so the flow engine and the recogniser edge can both use them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

#: Words that carry no meaning for intent matching ("I want to check my balance please" -> check, balance).
FILLER = frozenset("""
a an the i i'd i'm im me my mine we our us you your it its this that these those to of for on in at with about
and or but so just please thanks thank hi hello hey um uh er erm like well yes yeah ok okay want wanna would
could can can't do does need needs id get got have has had am is are was be been being some any
calling call called speak talk talking regarding re know tell let
quiero necesito por favor el la los las un una mi mis de del con para que
저 제 좀 그 이 요 주세요 싶어요 싶습니다 해
""".split())

_HANGUL = re.compile(r"[\uac00-\ud7a3]")

_YES_NO: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("yes", "yeah", "yep", "correct", "right", "that's right", "sure"),
           ("no", "nope", "wrong", "incorrect", "not right")),
    "es": (("sí", "si", "correcto", "claro", "exacto"), ("no", "incorrecto")),
    "ko": (("예", "네"), ("아니요", "아니오", "아니")),
}

_UNITS = {"zero": 0, "oh": 0, "o": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
          "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
#: Sino-Korean digits as recognisers write them (one syllable each).
_KO_DIGITS = {"영": 0, "공": 0, "일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "칠": 7, "팔": 8, "구": 9}
_REPEAT = {"double": 2, "triple": 3}

_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
             "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
             "twentieth": 20, "thirtieth": 30}
_MONTHS = {name: i + 1 for i, name in enumerate(
    "january february march april may june july august september october november december".split())}
_MONTHS.update({name[:3]: n for name, n in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_WEEKDAYS = {name: i for i, name in enumerate("monday tuesday wednesday thursday friday saturday sunday".split())}
_RELATIVE_DAYS = {"today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1, "오늘": 0, "내일": 1, "모레": 2,
                  "어제": -1, "hoy": 0, "mañana": 1, "manana": 1, "ayer": -1}

#: The kinds of entity :func:`extract` knows.
ENTITY_KINDS = ("digits", "amount", "date")


@dataclass(frozen=True)
class IntentMatch:
    """The best intent for a text: its ``name``, the ``phrase`` that matched and a ``score`` in (0, 1]."""

    name: str
    phrase: str
    score: float


def base_language(language: str) -> str:
    """``ko-KR`` -> ``ko``."""
    return language.lower().replace("_", "-").split("-")[0]


def normalize(text: str) -> str:
    """Lower case, compatibility-normalised, punctuation replaced by spaces, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = re.sub(r"[^\w\s'$.]", " ", text)
    text = re.sub(r"(?<!\d)[.]|[.](?!\d)", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


def tokens(text: str) -> list[str]:
    return normalize(text).split()


def _content(words: Iterable[str]) -> list[str]:
    return [w for w in words if w not in FILLER]


def _same_word(heard: str, wanted: str) -> bool:
    """Exact, a plural or possessive of it, or (Hangul) the word with particles or an ending attached:
    잔액을 and 정전이에요 say 잔액 and 정전 (a one-syllable word takes only 요: 네요 says 네, 예약 is not 예)."""
    if heard == wanted:
        return True
    if _HANGUL.search(wanted):
        return heard.startswith(wanted) and (len(wanted) > 1 or heard == wanted + "요")
    return heard in (wanted + "s", wanted + "es", wanted + "'s") or wanted in (heard + "s", heard + "es")


def _contains(heard: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(all(_same_word(heard[i + j], phrase[j]) for j in range(n)) for i in range(len(heard) - n + 1))


def phrase_score(text: str, phrase: str) -> float:
    """How well ``text`` says ``phrase``: 1.0 when it contains the phrase, 0.9 when it has all its meaningful
    words apart, else the share of those words present (times 0.8); 0 when nothing is shared."""
    heard, wanted = tokens(text), tokens(phrase)
    if not wanted or not heard:
        return 0.0
    if _contains(heard, wanted):
        return 1.0
    content = _content(wanted) or wanted
    heard_content = _content(heard)
    found = sum(1 for w in content if any(_same_word(h, w) for h in heard_content))
    if found == len(content):
        return 0.9
    return 0.8 * found / len(content)


def match_intent(text: str, intents: Mapping[str, Sequence[str]], minimum: float = 0.5) -> IntentMatch | None:
    """The intent whose phrases ``text`` says best (at least ``minimum``); longer phrases win ties, and two
    intents tied at the top mean the text is ambiguous (``None``)."""
    ranked: list[tuple[float, int, str, str]] = []
    for name, phrases in intents.items():
        best: tuple[float, int, str, str] | None = None
        for phrase in phrases:
            score = phrase_score(text, phrase)
            candidate = (score, len(tokens(phrase)), name, phrase)
            if score >= minimum and (best is None or candidate[:2] > best[:2]):
                best = candidate
        if best is not None:
            ranked.append(best)
    if not ranked:
        return None
    ranked.sort(key=lambda r: (r[0], r[1]), reverse=True)
    top = ranked[0]
    if len(ranked) > 1 and ranked[1][:2] == top[:2]:
        return None
    return IntentMatch(top[2], top[3], top[0])


def yes_no_words(language: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The words that answer yes and no in ``language`` (English when the language is not known)."""
    return _YES_NO.get(base_language(language), _YES_NO["en"])


def yes_or_no(text: str, language: str) -> bool | None:
    """True for yes, False for no, None when ``text`` is neither (or both)."""
    yes, no = yes_no_words(language)
    heard = tokens(text)
    said_yes = any(_contains(heard, tokens(w)) for w in yes)
    said_no = any(_contains(heard, tokens(w)) for w in no)
    if said_yes == said_no:
        return None
    return said_yes


def digit_words(language: str) -> tuple[str, ...]:
    """Words for the digits 0-9 in ``language`` (for recogniser hints)."""
    if base_language(language) == "ko":
        return tuple(_KO_DIGITS)
    if base_language(language) == "es":
        return ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve")
    return ("zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


_ES_UNITS = {"cero": 0, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
             "ocho": 8, "nueve": 9}


def extract_digits(text: str) -> str | None:
    """The digits said or written in ``text``: "one two three", "1 2 3", "one oh double five", "twenty five"
    (25), Sino-Korean "일 이 삼" or "일이삼"; None when there are none. Filler words ("um", "and") may come between
    digits; any other word ends a run, and the longest run wins ("twenty dollars for account one two three"
    gives 123)."""
    runs: list[str] = []
    current: list[str] = []
    words = tokens(text)
    repeat = 1
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word in _REPEAT:
            repeat = _REPEAT[word]
            continue
        piece = None
        if word.isdigit():
            piece = word * repeat if len(word) == 1 else word
        elif word in _UNITS or word in _ES_UNITS:
            piece = str(_UNITS.get(word, _ES_UNITS.get(word))) * repeat
        elif word in _TEENS:
            piece = str(_TEENS[word])
        elif word in _TENS:
            if i < len(words) and words[i] in _UNITS and _UNITS[words[i]] > 0:
                piece = str(_TENS[word] + _UNITS[words[i]])
                i += 1
            else:
                piece = str(_TENS[word])
        elif all(ch in _KO_DIGITS for ch in word):
            piece = "".join(str(_KO_DIGITS[ch]) for ch in word)
        repeat = 1
        if piece is not None:
            current.append(piece)
        elif word not in FILLER and current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return max(runs, key=len) if runs else None


def _number_words(words: list[str], start: int) -> tuple[int, int] | None:
    """An English cardinal number starting at ``words[start]`` ("one hundred and twenty five", "25"):
    (value, index after it) or None."""
    total, current, i, seen = 0, 0, start, False
    while i < len(words):
        word = words[i]
        if re.fullmatch(r"\d+", word) and not seen:
            return int(word), i + 1
        if word in _UNITS and word not in ("oh", "o"):
            current += _UNITS[word]
        elif word in _TEENS:
            current += _TEENS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "a" and i + 1 < len(words) and words[i + 1] in _SCALES and not seen:
            current = 1
        elif word in _SCALES and seen:
            scale = _SCALES[word]
            if scale == 100:
                current = (current or 1) * 100
            else:
                total += (current or 1) * scale
                current = 0
        elif word == "and" and seen and i + 1 < len(words) and (words[i + 1] in _UNITS or words[i + 1] in _TEENS
                                                                 or words[i + 1] in _TENS):
            i += 1
            continue
        else:
            break
        seen = True
        i += 1
    if not seen:
        return None
    return total + current, i


_CURRENCY = ("dollar", "dollars", "buck", "bucks", "usd")
_CENTS = ("cent", "cents")


def _amount_at(words: list[str], i: int) -> tuple[Decimal, int] | None:
    if re.fullmatch(r"\d+(?:\.\d{1,2})?", words[i]):
        return Decimal(words[i]), i + 1
    parsed = _number_words(words, i)
    return (Decimal(parsed[0]), parsed[1]) if parsed else None


def extract_amount(text: str) -> str | None:
    """A sum of money as ``"25.50"``: "$25.50", "25 dollars", "twenty five dollars and fifty cents",
    "a hundred dollars", "75 cents"; None when ``text`` names no amount."""
    low = re.sub(r"(?<=\d),(?=\d{3})", "", unicodedata.normalize("NFKC", text).lower())
    written = re.search(r"\$\s*(\d+(?:\.\d{1,2})?)", low)
    if written:
        return f"{Decimal(written.group(1)):.2f}"
    words = tokens(low)
    for i in range(len(words)):
        found = _amount_at(words, i)
        if found is None:
            continue
        value, after = found
        unit = words[after] if after < len(words) else ""
        if unit in _CENTS:
            return f"{value / 100:.2f}"
        if unit not in _CURRENCY:
            continue
        rest = after + 1 + (after + 1 < len(words) and words[after + 1] == "and")
        cents = _amount_at(words, rest) if rest < len(words) else None
        if cents and cents[0] < 100 and (cents[1] >= len(words) or words[cents[1]] in _CENTS
                                         or rest == after + 1):
            value += cents[0] / 100
        return f"{value:.2f}"
    return None


def _next_date(today: date, month: int, day: int) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def _day_number(words: list[str], i: int) -> tuple[int, int] | None:
    """A day of the month at ``words[i]``: "3", "3rd", "third", "twenty third", "twenty-third"."""
    if i >= len(words):
        return None
    word = words[i]
    match = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", word)
    if match:
        return int(match.group(1)), i + 1
    if word in _ORDINALS:
        return _ORDINALS[word], i + 1
    if word in _TENS and i + 1 < len(words) and words[i + 1] in _ORDINALS:
        return _TENS[word] + _ORDINALS[words[i + 1]], i + 2
    return None


def extract_date(text: str, today: date) -> date | None:
    """A day named in ``text``, relative to ``today`` (the call's local date): "today", "tomorrow", "the day
    after tomorrow", "monday", "next monday", "in 3 days", "december 3rd", "the 3rd of december", "12/3",
    "2026-12-03", 내일, mañana. A day without a year is its next occurrence from today."""
    low = unicodedata.normalize("NFKC", text).lower()
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", low)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    slash = re.search(r"\b(\d{1,2})/(\d{1,2})\b", low)
    if slash:
        return _next_date(today, int(slash.group(1)), int(slash.group(2)))
    words = tokens(low.replace("-", " "))
    joined = " ".join(words)
    if "day after tomorrow" in joined:
        return today + timedelta(days=2)
    in_days = re.search(r"\bin (\S+) days?\b", joined)
    if in_days:
        parsed = _number_words(in_days.group(1).split(), 0)
        if parsed:
            return today + timedelta(days=parsed[0])
    korean = re.search(r"(\d{1,2})\s*월\s*(\d{1,2})\s*일", low)
    if korean:
        return _next_date(today, int(korean.group(1)), int(korean.group(2)))
    for i, word in enumerate(words):
        for relative, offset in _RELATIVE_DAYS.items():
            if word == relative or (_HANGUL.search(relative) and word.startswith(relative)):
                return today + timedelta(days=offset)
        if word in _WEEKDAYS:
            return today + timedelta(days=(_WEEKDAYS[word] - today.weekday()) % 7 or 7)
        if word in _MONTHS:
            after = _day_number(words, i + 1)
            if after:
                return _next_date(today, _MONTHS[word], after[0])
            if i >= 2 and words[i - 1] == "of":
                for start in (i - 3, i - 2):
                    before = _day_number(words, start) if start >= 0 else None
                    if before and before[1] == i - 1:
                        return _next_date(today, _MONTHS[word], before[0])
    return None


def extract(text: str, kinds: Iterable[str], today: date) -> dict[str, str]:
    """The entities of ``kinds`` (among :data:`ENTITY_KINDS`) found in ``text``, as text: digits ``"123"``,
    amount ``"25.50"``, date ``"2026-12-03"``; kinds not found are left out."""
    found: dict[str, str] = {}
    for kind in kinds:
        if kind == "digits":
            value = extract_digits(text)
        elif kind == "amount":
            value = extract_amount(text)
        elif kind == "date":
            day = extract_date(text, today)
            value = day.isoformat() if day else None
        else:
            raise ValueError(f"unknown entity kind {kind!r}")
        if value is not None:
            found[kind] = value
    return found
