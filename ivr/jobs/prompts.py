"""The prompt rendering jobs: a published version's static local prompts, and a dynamic prompt for next time
(what to render is :mod:`ivr.services.prompts`; they are queued by :mod:`ivr.jobs.queue`)."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis as redis_lib

from ivr.bootstrap import worker_services
from ivr.jobs.queue import job_connection
from ivr.services.prompts import render_prompts, static_prompts
from speech.prompts import PromptCache, PromptText
from speech.tts import Synthesizer


def render_version_prompts(version: int, rate: int, connection: redis_lib.Redis | None = None) -> dict[str, Any]:
    """Job: render the static local prompts of published ``version`` (idempotent: cached ones are skipped)."""
    services = worker_services(connection or job_connection())
    bundle = services.repo.bundle(version)
    with Synthesizer() as synthesizer:
        report = render_prompts(static_prompts(bundle, rate), PromptCache(services.redis), synthesizer)
    return {"version": version, **dataclasses.asdict(report)}


def render_prompt(text: str, voice: str | None, language: str | None, rate: int, ttl: int | None,
                  connection: redis_lib.Redis | None = None) -> bool:
    """Job: render one prompt (a dynamic one said by Twilio this time) so that it plays next time."""
    with Synthesizer() as synthesizer:
        return PromptCache(connection or job_connection()).ensure(PromptText(text, voice, language, rate),
                                                                   synthesizer, ttl=ttl)
