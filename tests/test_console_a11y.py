"""Every console page, for each role, checked in a real browser: no accessibility violations found by axe-core
(labels, names, contrast, landmarks, ARIA), and every control reachable with the Tab key."""

from __future__ import annotations

import pytest

from ivr.simulator import LoopbackServer
from ivr.store.accounts import AccountStore, Role
from routing.model import Agent

from consoles import PASSWORD
from history_calls import OPEN, Clock, make_app, place_calls

#: What the Tab key must reach: every visible, enabled control that is not inside a closed <details>.
_FOCUSABLE = """() => [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')]
  .filter(el => !el.disabled && el.tabIndex >= 0 && el.type !== 'hidden' && el.offsetParent !== null
                && el.getClientRects().length > 0)
  .map(el => el.id || el.getAttribute('aria-label') || el.name || el.textContent.trim().slice(0, 40) || el.tagName)"""
_ACTIVE = """() => { const el = document.activeElement;
  return el ? (el.id || el.getAttribute('aria-label') || el.name || el.textContent.trim().slice(0, 40) || el.tagName)
            : null; }"""


@pytest.fixture
def served(redis, tmp_path, backend):
    clock = Clock(OPEN)
    app = make_app(redis, tmp_path, backend, clock)
    calls = place_calls(app, clock)
    app.extensions["ivr"].calls.router.register(Agent("ana", "Ana Lopez", {"billing": 5, "english": 5}, ("en",)))
    AccountStore(redis).create("ana", PASSWORD, Role.AGENT, agent_id="ana", name="Ana Lopez")
    with LoopbackServer(app) as server:
        yield server.base_url, calls
    if "tryflow" in app.extensions:
        app.extensions["tryflow"].close()  # the tries' threads hang up


def _pages(calls) -> dict[str, list[str]]:
    return {
        "": ["/login"],
        "sam": ["/wallboard", "/flows", "/flows/diagram/english", "/flows/edit/english.yaml", "/flows/try", "/calls",
                f"/calls/{calls.balance}", "/accounts", "/accounts/ana", "/password"],
        "ana": ["/agent", "/password"],
    }


def _check_page(page, url: str, *, loaded: bool = False) -> None:
    """Open ``url`` (unless ``loaded``: the page is there, its live parts settled) and check it."""
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import expect

    if not loaded:
        response = page.goto(url)
        assert response.status == 200, url
        page.wait_for_load_state("networkidle")  # live pages fill in their tables before axe reads them
    expect(page.locator("h1")).to_have_count(1)
    results = Axe().run(page)
    assert results.violations_count == 0, f"{url}:\n{results.generate_snapshot()}"
    wanted = page.evaluate(_FOCUSABLE)
    missing = set(wanted)
    page.locator("body").focus()
    for _ in range(3 * len(wanted) + 100):  # diagrams add a Tab stop per node on top of the controls
        if page.evaluate("() => document.activeElement.tagName") == "TEXTAREA":
            page.keyboard.press("Escape")  # the YAML editor keeps Tab for indenting until Escape
        page.keyboard.press("Tab")
        missing.discard(page.evaluate(_ACTIVE))
        if not missing:
            break
    assert not missing, f"{url}: the Tab key never reaches {missing}"


@pytest.mark.parametrize("who", ["", "sam", "ana"])
def test_pages_pass_axe_and_the_tab_key_reaches_every_control(served, page, sign_in, who):
    base_url, calls = served
    if who:
        sign_in(page, base_url, who)
    for path in _pages(calls)[who]:
        _check_page(page, base_url + path)
    if who == "sam":  # a try of the live flow, waiting at the language menu: dial pad, transcript, steps
        from playwright.sync_api import expect

        page.goto(base_url + "/flows/try")
        page.get_by_role("button", name="Start the call").click()
        expect(page.get_by_role("button", name="Key 1")).to_be_enabled()
        _check_page(page, page.url, loaded=True)
        page.get_by_role("button", name="Hang up").click()
