"""Shared fixtures: one real Redis server for the run (the project's own, unless REDIS_URL is set), flushed
around every test as rq's own tests do."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ivr.runner.redis import EmbeddedRedis, connect

from consoles import PASSWORD


@pytest.fixture(scope="session")
def redis_url():
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis(redis_url):
    client = connect(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def run_due_jobs(redis):
    """Run a real RQ worker (burst, with its scheduler) over the jobs of the ``ivr`` queue. The scheduled jobs
    named (by function name; all when none is named) are first moved to time 0 in rq's scheduled registry, as if
    their time had come (keeping their order), so no test waits for a timer."""
    from rq import Worker
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from ivr.jobs.queue import QUEUE_NAME

    def run(*names: str) -> None:
        registry = ScheduledJobRegistry(QUEUE_NAME, connection=redis)
        for rank, job in enumerate(Job.fetch_many(registry.get_job_ids(), connection=redis)):  # earliest first
            if job is not None and (not names or job.func_name.rsplit(".", 1)[-1] in names):
                redis.zadd(registry.key, {job.id: rank})
        Worker([QUEUE_NAME], connection=redis).work(burst=True, with_scheduler=True)

    return run


@pytest.fixture
def scheduled_jobs(redis):
    """Function names of the jobs waiting in rq's scheduled registry of the ``ivr`` queue, sorted."""
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from ivr.jobs.queue import QUEUE_NAME

    def names() -> list[str]:
        ids = ScheduledJobRegistry(QUEUE_NAME, connection=redis).get_job_ids()
        return sorted(job.func_name.rsplit(".", 1)[-1] for job in Job.fetch_many(ids, connection=redis) if job)

    return names


@pytest.fixture(scope="module")
def backend():
    """The sample Northwind Energy account API (demo/backend.py) on a loopback port: its base URL."""
    from demo.backend import run_backend_in_thread
    url, stop = run_backend_in_thread()
    yield url
    stop()


# -- browser tests -------------------------------------------------------------------------------------------------
#: Where browser tests save a screenshot of each page they visit, for review (printed at the end of the run).
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
#: Debian's chromium, started as the machine's closed network needs (no background connections, no sandbox as root).
CHROMIUM = os.environ.get("IVR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the run, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) and page; Playwright's expectations wait up to 10 s."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, "agent-offer")`` saves artifacts/screenshots/agent-offer.png (whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def sign_in():
    """``sign_in(page, base_url, username)`` fills the sign-in form as a person would (keyboard only) and waits
    for the first page after it."""

    def go(page, base_url: str, username: str, password: str = PASSWORD) -> None:
        page.goto(base_url + "/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_label("Password").press("Enter")
        page.wait_for_url(lambda url: "/login" not in url)

    return go


def pytest_sessionstart(session):
    session.config.ivr_started = time.time()


def pytest_terminal_summary(terminalreporter, config):
    """Say where this run's browser tests left their screenshots, for review."""
    started = getattr(config, "ivr_started", 0.0)
    shots = [p for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= started] if SCREENSHOTS.is_dir() else []
    if shots:
        terminalreporter.write_line(f"{len(shots)} page screenshots taken for review in {SCREENSHOTS}")
