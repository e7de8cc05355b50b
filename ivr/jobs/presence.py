"""The presence job: an agent whose console went quiet is signed out."""

from __future__ import annotations

import time

import redis as redis_lib

from ivr.bootstrap import worker_services
from ivr.jobs.queue import PRESENCE_TTL, job_connection, schedule_presence_check


def check_presence(agent_id: str, connection: redis_lib.Redis | None = None) -> bool:
    """Sign the agent out if their console went quiet; otherwise look again when it would be overdue."""
    services = worker_services(connection or job_connection())
    again = services.router.expire_presence(agent_id, PRESENCE_TTL * 1000)
    if again is None:
        return False
    schedule_presence_check(services.redis, agent_id, max(1.0, (again - time.time() * 1000) / 1000))
    return True
