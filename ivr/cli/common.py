"""What every command group shares: the settings, the Redis connection, the flow repository, the demo numbers."""

from __future__ import annotations

import click

from ivr.config import Settings

DEMO_NUMBER = "+15550100100"
DEMO_CALLER = "+15551230000"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as e:
        raise click.UsageError(str(e)) from e


def _redis(settings: Settings):
    """Redis from REDIS_URL, or the embedded server a running ``ivr serve`` / ``ivr demo`` recorded."""
    from ivr.runner.processes import read_state
    from ivr.runner.redis import connect
    url = settings.redis_url or read_state("redis.url")
    if not url:
        raise click.ClickException("REDIS_URL is not set and no 'ivr serve' is running here (.ivr/redis.url)")
    client = connect(url)
    try:
        client.ping()
    except Exception as e:
        raise click.ClickException(f"cannot reach Redis at {url}: {e}") from e
    return client


def _repo(settings: Settings):
    from ivr.bootstrap import flow_repository
    return flow_repository(settings, _redis(settings))
