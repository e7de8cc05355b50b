"""The call-flow system: flow language, engine, stores, services, telephony, jobs and the CLI, wired in ``bootstrap``."""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # RQ resolves an old job path such as ``ivr.prompts.render_prompt`` as attribute ``prompts`` of ``ivr`` once
    # ``import ivr.prompts`` fails; see ivr.jobs.aliases.
    from ivr.jobs.aliases import old_module

    module = old_module(f"ivr.{name}")
    if module is None:
        raise AttributeError(f"module 'ivr' has no attribute {name!r}")
    return module
