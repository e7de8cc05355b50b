"""Background work run by RQ workers (``ivr worker``): the queue and what enqueues (``queue``, ``scheduler``), one
module per kind of job, and the job paths of the previous layout (``aliases``)."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # Jobs queued under the old flat layout name ``ivr.jobs.<function>``; see ivr.jobs.aliases.
    from ivr.jobs.aliases import resolve

    try:
        return resolve(f"ivr.jobs.{name}")
    except KeyError:
        raise AttributeError(f"module 'ivr.jobs' has no attribute {name!r}") from None
