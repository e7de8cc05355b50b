"""Safe templating: only variable lookups and a fixed set of filters."""

from __future__ import annotations

import pytest

from ivr.flowlang.templating import MAX_VALUE_CHARS, Template, TemplateError


def render(text: str, **values) -> str:
    return Template.parse(text).render(values)


@pytest.mark.parametrize("text,message", [
    ("Hello {{ name", "unbalanced '{{'"),
    ("Hello name }}", "unbalanced '}}'"),
    ("{{ 1abc }}", "'1abc' is not a variable name"),
    ("{{ }}", "empty '{{ }}'"),
    ("{{ a() }}", "'a()' is not a variable name"),
    ("{{ x | mony }}", "unknown filter 'mony' (did you mean 'money'?)"),
    ("{{ x | digits:3 }}", "filter 'digits' takes no argument"),
    ("{{ x | last }}", "filter 'last' needs an argument"),
    ("{{ x | last:abc }}", "last:N needs a whole number"),
    ("{{ x | money:XYZ }}", "unknown currency 'XYZ'"),
])
def test_parse_errors(text, message):
    with pytest.raises(TemplateError) as info:
        Template.parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize("text,values,expected", [
    ("{{ n | digits }}", {"n": "12-34"}, "1 2 3 4"),
    ("{{ code | spell }}", {"code": "ab-12"}, "a b 1 2"),
    ("{{ v | money }}", {"v": 1234.5}, "1,234 dollars and 50 cents"),
    ("{{ v | money }}", {"v": "1.01"}, "1 dollar and 1 cent"),
    ("{{ v | money }}", {"v": 0}, "0 dollars"),
    ("{{ v | money }}", {"v": -12.3}, "minus 12 dollars and 30 cents"),
    ("{{ v | money:EUR }}", {"v": 2}, "2 euros"),
    ("{{ v | money:GBP }}", {"v": 2.01}, "2 pounds and 1 penny"),
    ("{{ v | money }}", {"v": "lots"}, ""),
    ("{{ v | number }}", {"v": 1234567}, "1,234,567"),
    ("{{ v | date }}", {"v": "2026-12-01"}, "Tuesday, December 1"),
    ("{{ v | date }}", {"v": "not a date"}, ""),
    ("{{ v | time }}", {"v": "14:30"}, "2:30 PM"),
    ("{{ v | time }}", {"v": "00:05"}, "12:05 AM"),
    ("{{ v | upper }}", {"v": "abc"}, "ABC"),
    ("{{ v | lower }}", {"v": "ABC"}, "abc"),
    ("{{ v | default:friend }}", {}, "friend"),
    ("{{ v | default:friend }}", {"v": "Ada"}, "Ada"),
    ("{{ v | last:4 }}", {"v": "12345678"}, "5678"),
    ("{{ a.b.c }}", {"a": {"b": {"c": 7}}}, "7"),
    ("{{ v }}", {"v": True}, "yes"),
    ("{{ v }}", {"v": 3.0}, "3"),
])
def test_filters_and_lookups(text, values, expected):
    assert Template.parse(text).render(values) == expected


def test_missing_values_render_empty_and_are_reported():
    text, missing = Template.parse("Hi {{ who }} from {{ where.city }}").render_with_report({"where": {}})
    assert text == "Hi  from " and missing == ["who", "where.city"]


def test_dotted_names_only_walk_dictionaries():
    assert render("{{ v.__class__ }}{{ v.upper }}", v="text") == ""


def test_containers_never_render_as_python_reprs():
    assert render("{{ v }}{{ w }}", v={"secret": 1}, w=[1, 2]) == ""


def test_caller_input_is_cleaned_and_capped():
    assert render("{{ v }}", v="a\x00b\nc") == "a b c"
    assert len(render("{{ v }}", v="x" * 10_000)) == MAX_VALUE_CHARS


def test_url_rendering_percent_encodes_every_value():
    url = Template.parse("/accounts/{{ v }}").render({"v": "1/../x?y=1&z#é "}, for_url=True)
    assert url == "/accounts/1%2F..%2Fx%3Fy%3D1%26z%23%C3%A9%20"


def test_names_and_literals():
    tpl = Template.parse("{{ account.balance | money }} {{ caller }}")
    assert tpl.names == {"account", "caller"} and tpl.dotted_names == {"account.balance", "caller"}
    assert Template.parse("plain").is_literal and not tpl.is_literal
