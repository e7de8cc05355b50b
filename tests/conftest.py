"""Shared fixtures: one real Redis server for the run (the project's own, unless REDIS_URL is set), flushed
around every test as rq's own tests do."""

from __future__ import annotations

import os

import pytest

from ivr.redisserver import EmbeddedRedis, connect


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
