"""``ivr call``: placing a simulated call, against a running server or the app in this process."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ivr.cli.common import DEMO_CALLER, DEMO_NUMBER, _settings


@click.command()
@click.option("--url", help="A running IVR server (default: the app in this process).")
@click.option("--from", "from_", default=DEMO_CALLER, show_default=True, help="Caller number.")
@click.option("--to", default=DEMO_NUMBER, show_default=True, help="Number called (picks the flow).")
@click.option("--press", "presses", multiple=True,
              help="The caller's answer to each prompt in turn: keys ('1', '1234#'), 'say:words' spoken into the "
                   "media stream (espeak-ng; 'say[ko]:words' picks the voice), 'wav:FILE', or '' for silence. "
                   "Repeatable.")
@click.option("--realtime/--fast", default=None,
              help="Send the caller's speech at the telephone's pace (default when interactive) or as fast as "
                   "the server takes it (default with --press).")
@click.option("--dial-status", default="completed", show_default=True, help="Outcome of transfers.")
@click.option("--queue-result", default="hangup", show_default=True, help="How the caller leaves a queue.")
@click.option("--sample-backend", is_flag=True, help="In-process: start the sample Northwind backend for lookups.")
def call(url: str | None, from_: str, to: str, presses: tuple[str, ...], realtime: bool | None, dial_status: str,
         queue_result: str, sample_backend: bool) -> None:
    """Place a simulated call: interactive at a terminal, scripted with --press."""
    from ivr.simulator import InteractiveCaller, ScriptedCaller
    inputs = [p if p else None for p in presses]
    scripted = bool(presses) or not sys.stdin.isatty()
    if scripted:
        caller = ScriptedCaller(inputs, dial=dial_status, queue=queue_result)
    else:
        caller = InteractiveCaller(dial=dial_status, queue=queue_result)
    pace = 1.0 if (realtime if realtime is not None else not scripted) else 0.0
    result = _place_call(url, from_, to, caller, sample_backend, on_event=_print_event, speech_pace=pace)
    click.echo(f"  outcome: {result.outcome}    (ivr calls show {result.call_sid})")
    if result.outcome == "error":
        sys.exit(1)


def _print_event(event: Any) -> None:
    from ivr.simulator import format_event
    line = format_event(event)
    if line:
        click.echo(line)


def _place_call(url, from_, to, caller, sample_backend, on_event, speech_pace=0.0):
    from ivr.runner.processes import read_state
    from ivr.simulator import HttpTransport, Simulator
    if url:
        token = os.environ.get("TWILIO_AUTH_TOKEN") or read_state("auth_token")
        if not token:
            raise click.ClickException("set TWILIO_AUTH_TOKEN to the server's token to sign requests")
        return Simulator(HttpTransport(url), token, speech_pace=speech_pace).place_call(from_, to, caller,
                                                                                       on_event=on_event)
    return _call_in_process(from_, to, caller, sample_backend, on_event, speech_pace)


def _call_in_process(from_, to, caller, sample_backend, on_event, speech_pace):
    import secrets
    from dataclasses import replace

    from demo.backend import run_backend_in_thread
    from ivr.runner.redis import EmbeddedRedis, connect
    from ivr.simulator import HttpTransport, LoopbackServer, Simulator
    from webhooks import create_app
    settings = _settings()
    token = secrets.token_hex(16)
    stop_backend = None
    services = dict(settings.services)
    if sample_backend:
        backend_url, stop_backend = run_backend_in_thread()
        services["billing"] = backend_url
    server = None if settings.redis_url else EmbeddedRedis().start()
    try:
        client = connect(settings.redis_url or server.url)
        app = create_app(replace(settings, twilio_auth_token=token, services=services), redis_client=client)
        if app.extensions["ivr"].repo.store.current_version() is None:
            raise click.ClickException(f"no valid flows to call: run 'ivr flows check {settings.flows_dir}'")
        with LoopbackServer(app) as loopback:  # a real socket: speech prompts are WebSocket media streams
            return Simulator(HttpTransport(loopback.base_url), token, speech_pace=speech_pace).place_call(
                from_, to, caller, on_event=on_event)
    finally:
        if stop_backend:
            stop_backend()
        if server:
            server.stop()
