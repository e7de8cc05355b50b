"""Words to meaning: normalising, intent matching, entities and yes/no (speech/intents.py)."""

from __future__ import annotations

from datetime import date

import pytest

from speech.intents import (digit_words, extract, extract_amount, extract_date, extract_digits, match_intent, normalize,
                            phrase_score, yes_no_words, yes_or_no)

TUESDAY = date(2026, 11, 24)

ENGLISH = {
    "balance": ["balance", "account balance", "my bill"],
    "outage": ["outage", "power outage", "no power"],
    "hours": ["opening hours", "hours", "when are you open"],
    "agent": ["agent", "representative", "operator"],
}
KOREAN = {
    "balance": ["잔액", "잔액 조회", "요금"],
    "outage": ["정전", "전기 고장"],
    "hours": ["영업시간", "영업 시간"],
    "agent": ["상담원", "상담사"],
}


@pytest.mark.parametrize("text, expected", [
    ("I'd like it, please!", "i'd like it please"),
    ("  Account   BALANCE ", "account balance"),
    ("$25.50.", "$25.50"),
    ("Ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
    ("잔액을 확인하고 싶어요.", "잔액을 확인하고 싶어요"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize("text, intent", [
    ("balance", "balance"),
    ("I want to check my balance please", "balance"),
    ("um I'd like to know my account balance", "balance"),
    ("there's no power at my house", "outage"),
    ("what are your opening hours", "hours"),
    ("when are you open on saturday", "hours"),
    ("can I speak to a representative", "agent"),
    ("Operator!", "agent"),
    ("what about my bills", "balance"),
    ("I want to buy a car", None),
    ("", None),
])
def test_english_intents_survive_filler_words(text, intent):
    match = match_intent(text, ENGLISH)
    assert (match.name if match else None) == intent


@pytest.mark.parametrize("text, intent", [
    ("잔액", "balance"),
    ("잔액을 확인하고 싶어요", "balance"),
    ("정전이에요", "outage"),
    ("전기 고장 신고요", "outage"),
    ("영업시간", "hours"),
    ("영업 시간이 어떻게 되나요", "hours"),
    ("상담원 연결해 주세요", "agent"),
    ("안녕하세요", None),
])
def test_korean_intents_accept_particles_and_endings(text, intent):
    match = match_intent(text, KOREAN)
    assert (match.name if match else None) == intent


def test_longest_phrase_wins_and_a_tie_is_ambiguous():
    match = match_intent("account balance", {"short": ["balance"], "long": ["account balance"]})
    assert match is not None and match.name == "long" and match.score == 1.0
    assert match_intent("sales and support", {"sales": ["sales"], "support": ["support"]}) is None


@pytest.mark.parametrize("text, phrase, score", [
    ("my power outage", "power outage", 1.0),
    ("the outage of power", "power outage", 0.9),
    ("power", "power outage", 0.4),
    ("nothing", "power outage", 0.0),
])
def test_phrase_score(text, phrase, score):
    assert phrase_score(text, phrase) == pytest.approx(score)


@pytest.mark.parametrize("text, digits", [
    ("one two three", "123"),
    ("123", "123"),
    ("1 2 3", "123"),
    ("my zip code is one oh oh oh three", "10003"),
    ("one two double four", "1244"),
    ("triple seven", "777"),
    ("twenty five", "25"),
    ("nineteen eighty four", "1984"),
    ("일 이 삼", "123"),
    ("일이삼사 오육칠팔", "12345678"),
    ("공일공 구", "0109"),
    ("영 일", "01"),
    ("uno dos tres", "123"),
    ("no digits here", None),
])
def test_extract_digits(text, digits):
    assert extract_digits(text) == digits


@pytest.mark.parametrize("text, amount", [
    ("twenty five dollars", "25.00"),
    ("$25.50", "25.50"),
    ("I can pay $ 40 today", "40.00"),
    ("25 dollars and 50 cents", "25.50"),
    ("twenty five dollars and fifty cents", "25.50"),
    ("twenty five dollars fifty", "25.50"),
    ("a hundred dollars", "100.00"),
    ("one hundred and twenty five dollars", "125.00"),
    ("two thousand three hundred dollars", "2300.00"),
    ("I can pay 1,200 dollars", "1200.00"),
    ("seventy five cents", "0.75"),
    ("12.99 dollars", "12.99"),
    ("five apples", None),
    ("no money", None),
])
def test_extract_amount(text, amount):
    assert extract_amount(text) == amount


@pytest.mark.parametrize("text, day", [
    ("today", "2026-11-24"),
    ("tomorrow", "2026-11-25"),
    ("yesterday", "2026-11-23"),
    ("the day after tomorrow", "2026-11-26"),
    ("in 3 days", "2026-11-27"),
    ("in ten days", "2026-12-04"),
    ("next monday", "2026-11-30"),
    ("on friday", "2026-11-27"),
    ("tuesday", "2026-12-01"),           # said on a Tuesday: the next one
    ("december 3rd", "2026-12-03"),
    ("December third", "2026-12-03"),
    ("the 3rd of december", "2026-12-03"),
    ("the twenty third of december", "2026-12-23"),
    ("november 1st", "2027-11-01"),       # already past this year
    ("may I pay on january 5", "2027-01-05"),
    ("12/3", "2026-12-03"),
    ("2027-02-01", "2027-02-01"),
    ("내일", "2026-11-25"),
    ("모레 낼게요", "2026-11-26"),
    ("12월 3일", "2026-12-03"),
    ("mañana", "2026-11-25"),
    ("february 30th", None),
    ("whenever", None),
])
def test_extract_date_relative_to_the_call(text, day):
    found = extract_date(text, TUESDAY)
    assert (found.isoformat() if found else None) == day


def test_extract_several_kinds_leaves_out_what_is_missing():
    assert extract("I will pay fifty dollars next friday", ["amount", "date"], TUESDAY) == {
        "amount": "50.00", "date": "2026-11-27"}
    assert extract("tomorrow please", ["digits", "amount", "date"], TUESDAY) == {"date": "2026-11-25"}
    assert extract("account one two three", ["digits"], TUESDAY) == {"digits": "123"}
    with pytest.raises(ValueError):
        extract("x", ["colour"], TUESDAY)


@pytest.mark.parametrize("text, language, answer", [
    ("yes", "en-US", True),
    ("yeah that's right", "en-US", True),
    ("no", "en-US", False),
    ("nope wrong", "en-US", False),
    ("maybe", "en-US", None),
    ("yes no", "en-US", None),
    ("sí", "es-US", True),
    ("no", "es-US", False),
    ("예", "ko-KR", True),
    ("네", "ko-KR", True),
    ("아니요", "ko-KR", False),
    ("아니오", "ko", False),
    ("네요", "ko-KR", True),
    ("예약하고 싶어요", "ko-KR", None),
    ("yes", "fr-FR", True),        # unknown languages fall back to English words
])
def test_yes_or_no(text, language, answer):
    assert yes_or_no(text, language) is answer


def test_word_lists_per_language():
    yes, no = yes_no_words("ko-KR")
    assert {"예", "네"} <= set(yes) and {"아니요", "아니오"} <= set(no)
    assert "sí" in yes_no_words("es-US")[0]
    assert digit_words("ko-KR")[:2] == ("영", "공") and "oh" in digit_words("en-US")
