"""Running the system locally: Redis (the project's own when ``REDIS_URL`` is unset), the IVR server under
gunicorn, and an RQ worker — as child processes that stop together."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import requests

from ivr.errors import IvrError
from ivr.runner.redis import EmbeddedRedis

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# One gunicorn configuration carries the webhooks, the agents' event streams and the media-stream WebSockets:
# threaded workers. A WebSocket or an event stream holds a thread, not a process; Vosk decodes in C with the GIL
# released, so recognition on one thread and webhooks on another share the cores. One process per core plus one,
# each loading the speech models once (bench/webhooks.py and bench/speech.py measure this configuration).
DEFAULT_WORKER_CLASS = "gthread"
DEFAULT_WORKERS = (os.cpu_count() or 1) + 1
DEFAULT_THREADS = 16
STATE_DIR = Path(".ivr")


class RunnerError(IvrError):
    """A server process failed to start."""


@dataclass
class Stack:
    """The running processes and how to reach them."""

    redis_url: str
    base_url: str
    auth_token: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


def write_state(name: str, value: str) -> None:
    """Record a value (Redis URL, development auth token) for later ``ivr`` commands in this directory."""
    STATE_DIR.mkdir(exist_ok=True)
    path = STATE_DIR / name
    path.write_text(value + "\n")
    path.chmod(0o600)


def read_state(name: str) -> str | None:
    path = STATE_DIR / name
    return path.read_text().strip() if path.exists() else None


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], timeout: float = 30.0,
                 path: str | None = "/healthz") -> None:
    """Poll ``path`` until the server answers 200 (any answer when ``path`` is None), bounded, failing fast if
    the process exits."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RunnerError(f"the server exited with code {process.returncode}")
        try:
            response = requests.get(base_url + (path or "/"), timeout=1)
            if response.status_code == 200 or path is None:
                return
            last = response.text
        except requests.RequestException as e:
            last = str(e)
        time.sleep(0.1)
    raise RunnerError(f"the server did not become healthy in {timeout:.0f}s: {last}")


@contextmanager
def running_stack(*, host: str, port: int, workers: int, threads: int, with_worker: bool,
                  env_overrides: dict[str, str] | None = None, quiet: bool = False,
                  app: str = "wsgi:app", worker_class: str = DEFAULT_WORKER_CLASS) -> Iterator[Stack]:
    """Start Redis (if needed), gunicorn and an RQ worker; stop them all on exit."""
    env = dict(os.environ)
    env.update(env_overrides or {})
    if worker_class == "gthread":  # half the threads at most for console streams: webhooks always find a thread
        env.setdefault("IVR_STREAM_SLOTS", str(max(1, threads // 2)))
    embedded = None
    if not env.get("REDIS_URL"):
        embedded = EmbeddedRedis().start()
        env["REDIS_URL"] = embedded.url
        write_state("redis.url", embedded.url)
    if not env.get("TWILIO_AUTH_TOKEN"):
        env["TWILIO_AUTH_TOKEN"] = secrets.token_hex(16)
        write_state("auth_token", env["TWILIO_AUTH_TOKEN"])
    base_url = f"http://{host}:{port}"
    stack = Stack(env["REDIS_URL"], base_url, env["TWILIO_AUTH_TOKEN"])
    output = subprocess.DEVNULL if quiet else None
    try:
        # Publish once here, so several gunicorn workers do not race to publish the same directory.
        publish = subprocess.run([sys.executable, "-m", "ivr.cli", "flows", "publish", "--if-changed",
                                  "--author", "ivr-serve", "-m", "published at server start"],
                                 env=env, capture_output=True, text=True)
        if publish.returncode != 0:
            sys.stderr.write(publish.stdout + publish.stderr)
        env["IVR_PUBLISH_ON_START"] = "0"
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--chdir", str(PROJECT_ROOT), "--bind", f"{host}:{port}",
             "--workers", str(workers), "--worker-class", worker_class, "--threads", str(threads),
             "--graceful-timeout", "5", "--log-level", "warning"],
            env=env, stdout=output, stderr=output, start_new_session=True)
        stack.processes.append(server)
        if with_worker:
            # Own sessions: Ctrl-C reaches only us, and we stop the children in order (worker, server, Redis).
            stack.processes.append(subprocess.Popen([sys.executable, "-m", "ivr.cli", "worker"], env=env,
                                                    stdout=output, stderr=output, start_new_session=True))
        wait_healthy(base_url, server, path="/healthz" if app == "wsgi:app" else None)
        yield stack
    finally:
        for process in reversed(stack.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in stack.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if embedded is not None:
            embedded.stop()
            (STATE_DIR / "redis.url").unlink(missing_ok=True)
