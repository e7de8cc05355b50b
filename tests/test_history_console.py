"""The call history in a real browser: callers phone the sample flows through the simulator (real webhooks over a
loopback socket), then a supervisor in New York searches by number and by outcome and reads a call's timeline."""

from __future__ import annotations

import re

import pytest

from ivr.simulator import LoopbackServer

from history_calls import OPEN, Clock, make_app, place_calls


@pytest.fixture
def new_york(browser):
    """A page in a browser whose clock is in New York (the history shows days and times in the browser's zone)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US",
                                  timezone_id="America/New_York")
    yield context.new_page()
    context.close()


def result_rows(page):
    return page.locator("table.history-results tbody tr")


def test_a_supervisor_searches_the_history_and_reads_a_timeline(redis, tmp_path, backend, new_york, screenshot,
                                                                sign_in):
    from playwright.sync_api import expect

    page = new_york
    clock = Clock(OPEN)
    app = make_app(redis, tmp_path, backend, clock)
    with LoopbackServer(app) as server:
        calls = place_calls(app, clock)
        sign_in(page, server.base_url, "sam")
        page.get_by_role("link", name="Calls").click()
        expect(page).to_have_url(re.compile(r"/calls\?tz=America%2FNew_York$"))
        expect(page.get_by_role("heading", name="Calls 1–4")).to_be_visible()
        expect(result_rows(page)).to_have_count(4)
        expect(result_rows(page).first).to_contain_text("2026-11-23 13:00:00")  # the newest, in New York time
        expect(page.get_by_text("Dates are whole days in America/New_York")).to_be_visible()

        # by part of a number, from the keyboard
        page.get_by_label("Number (caller or called)").fill("555 123-0002")
        page.get_by_label("Number (caller or called)").press("Enter")
        expect(result_rows(page)).to_have_count(1)
        expect(result_rows(page).first).to_contain_text("+15551230002")
        expect(result_rows(page).first.get_by_role("cell", name="Abandoned")).to_be_visible()

        # by outcome, on one day
        page.get_by_label("Number (caller or called)").fill("")
        page.get_by_label("Outcome").select_option("self-service")
        page.get_by_label("From", exact=True).fill("2026-11-23")
        page.get_by_label("To", exact=True).fill("2026-11-23")
        page.get_by_role("button", name="Search").click()
        expect(result_rows(page)).to_have_count(2)
        expect(result_rows(page).nth(0)).to_contain_text("+15551230003")
        expect(result_rows(page).nth(1)).to_contain_text("+15551230001")
        screenshot(page, "calls-search")

        # a bad range is explained next to the field
        page.get_by_label("From", exact=True).fill("2026-11-24")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("alert")).to_contain_text("The search was not run")
        expect(page.get_by_label("To", exact=True)).to_have_accessible_description("The end date is before the start date.")
        page.get_by_label("From", exact=True).fill("2026-11-23")
        page.get_by_role("button", name="Search").click()
        expect(result_rows(page)).to_have_count(2)

        # the balance call's timeline
        page.get_by_role("link", name=re.compile(r"call from \+15551230003")).click()
        expect(page.get_by_role("heading", name="Call from +15551230003")).to_be_visible()
        expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
        steps = page.locator("table.history-timeline tbody tr")
        record = app.extensions["ivr"].calllog.get(calls.balance)
        expect(steps).to_have_count(len(record["steps"]))
        expect(steps.nth(1)).to_contain_text("english.main_menu")
        expect(steps.nth(1)).to_contain_text("chose")
        expect(steps.nth(1).locator("dl")).to_contain_text("Keys1")
        expect(page.locator("tr", has_text="collected")).to_contain_text("****5674")
        expect(page.locator("tr", has_text="lookup-ok")).to_contain_text("identify.fetch_account")
        expect(page.locator(".history-facts").first).to_contain_text("2026-11-23 12:00:00")
        expect(page.get_by_text("Not queued for an agent")).to_be_visible()
        screenshot(page, "call-timeline")

        page.get_by_role("link", name="All calls").click()
        expect(result_rows(page)).to_have_count(4)
