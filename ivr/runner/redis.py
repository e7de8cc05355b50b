"""The project's own ``redis-server``, started when ``REDIS_URL`` is unset (development, demo, tests)."""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis as redis_lib
from redis.backoff import NoBackoff
from redis.retry import Retry

from ivr.errors import IvrError


class RedisServerError(IvrError):
    """The embedded Redis server could not be found or started."""


def connect(url: str, *, timeout: float = 2.0) -> redis_lib.Redis:
    """A client that fails fast when Redis is down (a webhook must still answer within Twilio's limits)."""
    # One quick retry, no backoff: redis-py's default exponential retries would hold a webhook for seconds.
    return redis_lib.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                    health_check_interval=30, retry=Retry(NoBackoff(), 1))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_redis_server() -> str:
    path = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists()
                                            else None)
    if path is None:
        raise RedisServerError("redis-server is not installed: run ./run install (apt-get install redis-server) "
                               "or set REDIS_URL")
    return path


class EmbeddedRedis:
    """A private ``redis-server`` on a free loopback port, with no persistence; stopped on exit."""

    def __init__(self, port: int | None = None, directory: str | None = None):
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "EmbeddedRedis":
        binary = find_redis_server()
        if self.directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ivr-redis-")
            self.directory = self._tmp.name
        for _attempt in range(5):
            port = self.port or _free_port()
            self.process = subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", self.directory, "--save", "",
                 "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
            self.port = port
            if self._wait_ready(timeout):
                atexit.register(self.stop)
                return self
            self.stop()
            self.port = None if self.port == port else self.port
        raise RedisServerError(f"redis-server did not start on 127.0.0.1:{port}")

    def _wait_ready(self, timeout: float) -> bool:
        client = connect(self.url, timeout=0.5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False  # exited: port taken or bad config
            try:
                if client.ping():
                    return True
            except redis_lib.ConnectionError:
                time.sleep(0.02)  # polling a process that is starting up, bounded by the deadline
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stderr:
            process.stderr.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.directory = None

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def redis_url_or_embedded(redis_url: str | None) -> tuple[str, EmbeddedRedis | None]:
    """``REDIS_URL`` when set; otherwise start the project's own server (the caller stops it)."""
    if redis_url:
        return redis_url, None
    server = EmbeddedRedis().start()
    return server.url, server


__all__ = ["EmbeddedRedis", "RedisServerError", "connect", "redis_url_or_embedded", "find_redis_server"]
