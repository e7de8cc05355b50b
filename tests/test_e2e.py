"""End to end: the real server under gunicorn, a real RQ worker, Redis, the sample backend, and the simulator
placing calls over HTTP; plus the command line as a supervisor uses it."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest
from rq import Queue

from demo.backend import run_backend_in_thread
from ivr.jobs.queue import QUEUE_NAME
from ivr.jobs.stats import count_finished_calls, daily_stats
from ivr.runner.processes import running_stack
from ivr.runner.redis import connect
from ivr.simulator import HttpTransport, ScriptedCaller, Simulator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def e2e_redis_url(redis_url):
    url = redis_url.rsplit("/", 1)[0] + "/3"  # a database of its own: other tests flush database 0
    client = connect(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture(scope="module")
def flows_dir(tmp_path_factory):
    target = tmp_path_factory.mktemp("e2e") / "flows"
    shutil.copytree(ROOT / "flows", target)
    return target


@pytest.fixture(scope="module")
def stack(e2e_redis_url, flows_dir):
    backend_url, stop_backend = run_backend_in_thread()
    env = {"REDIS_URL": e2e_redis_url, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_SERVICE_BILLING_URL": backend_url,
           "IVR_FLOWS_DIR": str(flows_dir), "IVR_API_TOKEN": "e2e-api"}
    try:
        with running_stack(host="127.0.0.1", port=free_port(), workers=2, threads=4, with_worker=True,
                           env_overrides=env, quiet=True) as running:
            yield running
    finally:
        stop_backend()


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ivr.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, timeout=120)


def place(stack, *keys, to="+15550100101"):
    sim = Simulator(HttpTransport(stack.base_url), TOKEN)
    return sim.place_call("+15551230000", to, ScriptedCaller(list(keys)))


def test_balance_call_through_the_real_server(stack):
    result = place(stack, "1", "12345674#", "1", "9")
    assert result.errors == []
    assert any("your balance is 142 dollars and 17 cents" in text for text in result.said)
    assert all(r["status"] in (200, 204) for r in result.requests)


def test_call_log_and_statistics_from_the_rq_worker(stack, e2e_redis_url):
    result = place(stack, "3", "", "")
    assert result.outcome == "hangup"
    shown = cli("calls", "show", result.call_sid, env={"REDIS_URL": e2e_redis_url})
    assert shown.returncode == 0, shown.stderr
    assert "english.hours_info [say] said" in shown.stdout and "disposition self-service" in shown.stdout
    redis = connect(e2e_redis_url)
    # The status callback queued a counting job; one more behind it on the single worker returns only after
    # everything before it ran (counting is idempotent, so running it twice changes nothing).
    job = Queue(QUEUE_NAME, connection=redis).enqueue(count_finished_calls)
    outcome = job.latest_result(timeout=30)  # blocks on the worker's result stream, no polling
    assert outcome is not None and outcome.type == outcome.Type.SUCCESSFUL
    assert redis.llen("ivr:finished") == 0
    day = datetime.now(timezone.utc).date().isoformat()
    assert daily_stats(redis, day)["disposition:self-service"] >= 1
    stats = cli("calls", "stats", "--day", day, env={"REDIS_URL": e2e_redis_url})
    assert "disposition:self-service" in stats.stdout


def test_concurrent_calls_all_complete(stack):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: place(stack, "3", "9", "hangup"), range(16)))
    assert all(r.errors == [] for r in results)
    assert all(any("Monday to Friday" in t for t in r.said) for r in results)
    assert len({r.call_sid for r in results}) == 16


def test_a_caller_speaks_korean_through_the_production_server(stack, e2e_redis_url):
    """The media stream is a WebSocket on gunicorn itself; what was said lands on the call log."""
    result = place(stack, "say:영업 시간", "hangup", to="+15550100103")
    assert result.errors == [] and result.of_kind("stream")
    assert result.of_kind("stream")[0].data["url"] == stack.base_url.replace("http://", "ws://") + "/twilio/media"
    assert any(t.startswith("고객 센터는 미국 동부 시간으로") for t in result.said)
    shown = cli("calls", "show", result.call_sid, env={"REDIS_URL": e2e_redis_url})
    assert "korean.main_menu [menu] chose  target=hours_info  intent=hours  heard=영업 시간" in shown.stdout


def test_api_serves_the_call_log(stack):
    import requests
    result = place(stack, "3")
    response = requests.get(f"{stack.base_url}/api/calls/{result.call_sid}",
                            headers={"Authorization": "Bearer e2e-api"}, timeout=5)
    assert response.status_code == 200 and response.json()["steps"][0]["node"] == "main_menu"
    assert requests.get(f"{stack.base_url}/api/calls", timeout=5).status_code == 401


def test_publish_history_rollback_from_the_command_line(stack, e2e_redis_url, flows_dir):
    env = {"REDIS_URL": e2e_redis_url, "IVR_FLOWS_DIR": str(flows_dir)}
    english = flows_dir / "english.yaml"
    original = english.read_text()
    try:
        english.write_text(original.replace("goto: hours_info", "goto: hours_inof"))
        broken = cli("flows", "publish", "-m", "typo", env=env)
        assert broken.returncode == 1
        assert "nodes.main_menu.menu.options[2].goto: no node 'hours_inof' (did you mean 'hours_info'?)" \
            in broken.stdout
        assert any("Monday to Friday" in t for t in place(stack, "3").said)  # still the working version

        english.write_text(original.replace("Our customer service team is available", "Our team is available"))
        published = cli("flows", "publish", "-m", "shorter hours message", "--author", "dana", env=env)
        assert published.returncode == 0 and "published version" in published.stdout
        assert any(t.startswith("Our team is available") for t in place(stack, "3").said)

        history = cli("flows", "history", env=env)
        assert "dana" in history.stdout and "shorter hours message" in history.stdout
        assert history.stdout.splitlines()[0].startswith("*")

        rolled = cli("flows", "rollback", env=env)
        assert rolled.returncode == 0
        assert any(t.startswith("Our customer service team") for t in place(stack, "3").said)
    finally:
        english.write_text(original)


def test_demo_command_runs_a_whole_call(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TWILIO_AUTH_TOKEN")}
    demo = subprocess.run([sys.executable, "-m", "ivr.cli", "demo", "--once", "--port", str(free_port())],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=180)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "your balance is 142 dollars and 17 cents" in demo.stdout
    assert "the call log (ivr calls show):" in demo.stdout and "identify.fetch_account [lookup] lookup-ok" \
        in demo.stdout
    assert "AGENT Olivia accepts (200)" in demo.stdout and "disposition answered" in demo.stdout
    assert re.search(r"supervisor +sam / \S{12}", demo.stdout) and re.search(r"agent +ana / \S{12}", demo.stdout)


def test_consoles_under_gunicorn_with_accounts_from_the_command_line(stack, e2e_redis_url, browser, sign_in):
    """Accounts made with `ivr accounts add` sign in to the real server (two gunicorn workers share the signing
    key through Redis); the agent goes available from the console and the supervisor's wallboard shows it live."""
    from playwright.sync_api import expect

    env = {"REDIS_URL": e2e_redis_url, "IVR_PASSWORD": "a long e2e password"}
    made = cli("agents", "add", "e2e-ana", "--name", "Ana E2E", "--skill", "billing=5", "--language", "en", env=env)
    assert made.returncode == 0, made.stderr
    for args in (["e2e-ana", "--role", "agent"], ["e2e-sam", "--role", "supervisor", "--name", "Sam E2E"]):
        result = cli("accounts", "add", *args, env=env)
        assert result.returncode == 0 and "created" in result.stdout, result.stderr
    listed = cli("accounts", "list", env=env).stdout
    assert re.search(r"e2e-ana +agent +enabled +e2e-ana +Ana E2E", listed)

    supervisor, agent = browser.new_context(), browser.new_context()
    try:
        wallboard = supervisor.new_page()
        sign_in(wallboard, stack.base_url, "e2e-sam", "a long e2e password")
        expect(wallboard.get_by_role("heading", name="Wallboard")).to_be_visible()
        row = wallboard.locator("tr", has_text="Ana E2E")
        expect(row).to_contain_text("offline")
        console = agent.new_page()
        sign_in(console, stack.base_url, "e2e-ana", "a long e2e password")
        expect(console.locator("#connection")).to_have_text("Live updates: connected")
        console.get_by_role("button", name="Available", exact=True).click()
        expect(console.locator("#status-badge")).to_have_text("Available")
        expect(row).to_contain_text("available")  # live, on the other worker or the same one
        for _ in range(6):  # many requests: they land on both workers, and every one knows the session
            console.reload()
            expect(console.locator("#status-badge")).to_have_text("Available")
    finally:
        supervisor.close()
        agent.close()
