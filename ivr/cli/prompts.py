"""``ivr prompts``: rendering the prompts of 'tts: local' flows to audio ahead of the calls."""

from __future__ import annotations

import sys

import click

from ivr.cli.common import _repo, _settings
from ivr.errors import FlowError, StoreError


@click.group()
def prompts() -> None:
    """Prompts of 'tts: local' flows, rendered to audio here (pyttsx3, espeak-ng)."""


@prompts.command("render")
@click.option("--version", "version", type=int, default=None, help="Flow version (default: the live one).")
def prompts_render(version: int | None) -> None:
    """Render the static prompts of a published version now (those already cached are skipped)."""
    import time

    from ivr.engine.instructions import Tts
    from ivr.services.prompts import render_prompts, static_prompts
    from speech.prompts import PromptCache
    from speech.tts import Synthesizer
    settings = _settings()
    repo = _repo(settings)
    try:
        version, bundle = (version, repo.bundle(version)) if version is not None else repo.current()
    except (StoreError, FlowError) as e:
        raise click.ClickException(str(e)) from e
    local = [name for name, flow in bundle.flows.items() if flow.tts is Tts.LOCAL]
    texts = static_prompts(bundle, settings.tts_rate)
    started = time.perf_counter()
    with Synthesizer() as synthesizer:
        report = render_prompts(texts, PromptCache(repo.store.redis), synthesizer)
    seconds = time.perf_counter() - started
    click.echo(f"version {version}: {len(local)} flow(s) with tts: local ({', '.join(local) or 'none'}), "
               f"{report.total} static prompt(s) at {settings.tts_rate} wpm")
    click.echo(f"rendered {report.rendered}, already cached {report.cached}, failed {len(report.failed)} "
               f"in {seconds:.2f}s")
    for text, why in report.failed:
        click.echo(f"  failed: {text[:60]!r}: {why}", err=True)
    if report.failed:
        sys.exit(1)
