"""RQ job paths of the previous layout, kept for one release so jobs queued before an upgrade still run.

RQ stores a job's function as a dotted path and imports it when a worker picks the job up; a job queued as
``ivr.jobs.expire_offers`` by the old code must find the function in its new module. Remove after the next release.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

# old dotted path -> "new.module:function"
OLD_JOB_PATHS: dict[str, str] = {
    "ivr.jobs.count_finished_calls": "ivr.jobs.stats:count_finished_calls",
    "ivr.jobs.finalize_call": "ivr.jobs.stats:finalize_call",
    "ivr.jobs.daily_stats": "ivr.jobs.stats:daily_stats",
    "ivr.jobs.expire_offers": "ivr.jobs.routing_timers:expire_offers",
    "ivr.jobs.end_wrap_up": "ivr.jobs.routing_timers:end_wrap_up",
    "ivr.jobs.escalate_call": "ivr.jobs.routing_timers:escalate_call",
    "ivr.jobs.enforce_max_wait": "ivr.jobs.routing_timers:enforce_max_wait",
    "ivr.jobs.run_callbacks": "ivr.jobs.callbacks:run_callbacks",
    "ivr.jobs.check_presence": "ivr.jobs.presence:check_presence",
    "ivr.jobs.rematch": "ivr.jobs.sweeps:rematch",
    "ivr.jobs.startup_sweep": "ivr.jobs.sweeps:startup_sweep",
    "ivr.prompts.render_version_prompts": "ivr.jobs.prompts:render_version_prompts",
    "ivr.prompts.render_prompt": "ivr.jobs.prompts:render_prompt",
    "ivr.transcription.transcribe_recording": "ivr.jobs.transcription:transcribe_recording",
    "ivr.wallboard.sample_wallboard": "ivr.jobs.wallboard:sample_wallboard",
}


def resolve(old_path: str) -> Callable[..., Any]:
    """The function an old job path now names. Raises ``KeyError`` for a path that was never a job."""
    module, _, name = OLD_JOB_PATHS[old_path].partition(":")
    return getattr(importlib.import_module(module), name)


class OldModule:
    """Stands in for a module of the old layout (``ivr.prompts``, ...) as far as RQ's ``import_attribute`` looks."""

    def __init__(self, dotted: str):
        self._dotted = dotted

    def __getattr__(self, name: str) -> Callable[..., Any]:
        try:
            return resolve(f"{self._dotted}.{name}")
        except KeyError:
            raise AttributeError(f"{self._dotted} has no job {name!r} (moved modules keep only their job paths)") from None


def old_module(dotted: str) -> OldModule | None:
    """The stand-in for an old module that held jobs, or None when ``dotted`` never did."""
    prefix = dotted + "."
    return OldModule(dotted) if any(p.startswith(prefix) for p in OLD_JOB_PATHS) else None
