"""The RQ implementation of the services' :class:`~ivr.services.scheduling.Scheduler` port: each request becomes
a job queued (or scheduled) on the ``ivr`` queue by the functions of :mod:`ivr.jobs.queue`."""

from __future__ import annotations

import redis as redis_lib

from ivr.jobs.queue import (enqueue_callbacks, enqueue_count, enqueue_transcription, schedule_offer_expiry,
                            schedule_presence_check, schedule_queue_timers, schedule_wrap_up_end)
from ivr.services.scheduling import Recording
from ivr.store.calllog import CallLog
from routing.config import QueueConfig
from routing.model import Offer


class RqScheduler:
    """Schedules the services' work as RQ jobs on ``redis`` (the queue the ``ivr worker`` serves)."""

    def __init__(self, redis: redis_lib.Redis, calllog: CallLog):
        self.redis = redis
        self.calllog = calllog  # a voicemail is marked "queued for transcription" on it

    def count_finished_calls(self) -> None:
        """Queue the job that counts the finished calls staged for counting."""
        enqueue_count(self.redis)

    def expire_offer(self, offer: Offer) -> None:
        """Time the offer out when it expires."""
        schedule_offer_expiry(self.redis, offer)

    def end_wrap_up(self, agent_id: str, seconds: int) -> None:
        """End the agent's wrap-up in ``seconds`` (also noted in Redis for the startup sweep)."""
        schedule_wrap_up_end(self.redis, agent_id, seconds)

    def queue_timers(self, call_sid: str, queue: QueueConfig) -> None:
        """A call entered an agent queue: its escalation steps and maximum wait become RQ jobs."""
        schedule_queue_timers(self.redis, call_sid, queue)

    def place_callbacks(self) -> None:
        """Queue the job that places the callbacks which have an agent available."""
        enqueue_callbacks(self.redis)

    def check_presence(self, agent_id: str) -> None:
        """Sign the agent out later if their console goes quiet."""
        schedule_presence_check(self.redis, agent_id)

    def transcribe(self, recording: Recording) -> None:
        """Mark the voicemail as queued for transcription and queue the job."""
        enqueue_transcription(self.redis, self.calllog, recording)
