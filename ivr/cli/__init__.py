"""The ``ivr`` command line: check, publish, test and try flows; read the call log; run the system.

This module is the composition root: it wires Redis, the store, the app and the simulator together, so it is the
one place in ``ivr`` allowed to reach the HTTP layer (imported lazily, inside the commands that serve or call).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from ivr.config import Settings
from ivr.errors import FlowError, StoreError
from ivr.runner.processes import DEFAULT_THREADS, DEFAULT_WORKER_CLASS, DEFAULT_WORKERS

DEMO_NUMBER = "+15550100100"
DEMO_CALLER = "+15551230000"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as e:
        raise click.UsageError(str(e)) from e


def _redis(settings: Settings):
    """Redis from REDIS_URL, or the embedded server a running ``ivr serve`` / ``ivr demo`` recorded."""
    from ivr.runner.redis import connect
    from ivr.runner.processes import read_state
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
    from ivr.services.publishing import FlowRepository
    from ivr.services.prompts import publish_hook
    from ivr.store.flowversions import FlowStore
    redis = _redis(settings)
    return FlowRepository(FlowStore(redis), settings.services, on_publish=publish_hook(redis, settings.tts_rate))


@click.group()
@click.version_option(package_name="ivr-routing", message="%(version)s")
def main() -> None:
    """Voice IVR and skill-based call routing: flows, calls and the servers that run them."""


# -- flows ---------------------------------------------------------------------------------------------------------
@main.group()
def flows() -> None:
    """Check, publish, roll back and test call flows."""


@flows.command("check")
@click.argument("paths", nargs=-1, type=click.Path())
def flows_check(paths: tuple[str, ...]) -> None:
    """Validate flow files or directories (default: $IVR_FLOWS_DIR). Exit 0 when valid (warnings included),
    1 when not."""
    from ivr.flowlang.check import check_files
    targets = list(paths) or [str(_settings().flows_dir)]
    diagnostics = check_files(targets, models_dir=os.environ.get("IVR_SPEECH_MODELS_DIR"))
    for diagnostic in diagnostics:
        click.echo(str(diagnostic))
    errors = sum(d.is_error for d in diagnostics)
    if errors:
        click.echo(f"{errors} problem{'s' if errors != 1 else ''} found", err=True)
        sys.exit(1)
    warnings = len(diagnostics) - errors
    click.echo(f"ok: {', '.join(targets)}" + (f" ({warnings} warning{'s' if warnings != 1 else ''})"
                                              if warnings else ""))


@flows.command("publish")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("-m", "--message", default="", help="What changed (kept in the history).")
@click.option("--author", default=lambda: os.environ.get("USER") or getpass.getuser(), show_default="$USER")
@click.option("--if-changed", is_flag=True, help="Only if the directory's files changed since it was last published "
                                                "(what servers do at start: a version published or rolled back "
                                                "since, e.g. from the console, stays live).")
def flows_publish(directory: str | None, message: str, author: str, if_changed: bool) -> None:
    """Validate the flows directory and make it the live version (new calls only; running calls keep theirs)."""
    settings = _settings()
    directory = directory or str(settings.flows_dir)
    repo = _repo(settings)
    before = repo.store.current_version()
    try:
        if if_changed and repo.published_as_is(directory):
            click.echo(f"{directory} has not changed since it was published: version {before} stays live")
            return
        version = repo.publish_directory(directory, author=author, message=message)
    except FlowError as e:
        for diagnostic in e.diagnostics:
            click.echo(str(diagnostic))
        click.echo(f"not published: {len(e.diagnostics)} problem(s); version {before} stays live", err=True)
        sys.exit(1)
    if version == before:
        click.echo(f"unchanged: version {version} is already live")
    else:
        click.echo(f"published version {version} (was {before})")


@flows.command("history")
@click.option("--limit", default=20, show_default=True)
def flows_history(limit: int) -> None:
    """Published versions, newest first."""
    store = _repo(_settings()).store
    for entry in store.history(limit=limit):
        mark = "*" if entry.get("current") else " "
        when = datetime.fromtimestamp(float(entry.get("published_at", 0)), timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        kind = entry.get("kind") or entry.get("event") or "publish"
        click.echo(f"{mark} v{entry['version']:<4} {when}Z  {entry.get('author', ''):<14} {kind:<8} "
                   f"{entry.get('message', '')}")


@flows.command("rollback")
@click.option("--to", "to", type=int, default=None, help="Version to go back to (default: the previous one).")
def flows_rollback(to: int | None) -> None:
    """Make an earlier version live again (validated first)."""
    repo = _repo(_settings())
    try:
        version = repo.rollback(to=to, author=os.environ.get("USER", ""))
    except (StoreError, FlowError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"version {version} is live")


@flows.command("export")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--version", "version", type=int, default=None, help="Version to write (default: the live one).")
def flows_export(directory: str | None, version: int | None) -> None:
    """Write a published version's files into a directory (default: $IVR_FLOWS_DIR), e.g. to commit what was
    edited and published in the browser."""
    settings = _settings()
    directory = directory or str(settings.flows_dir)
    repo = _repo(settings)
    version = version if version is not None else repo.store.current_version()
    if version is None:
        raise click.ClickException("no flow version is published yet")
    try:
        report = repo.export(version, directory)
    except StoreError as e:
        raise click.ClickException(str(e)) from e
    for name, what in report.items():
        click.echo(f"  {what:<10} {name}")
    click.echo(f"version {version} written to {directory}")


@flows.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-v", "--verbose", is_flag=True, help="Print each call's transcript.")
def flows_test(paths: tuple[str, ...], verbose: bool) -> None:
    """Run flow scenario tests (default: $IVR_FLOWS_DIR/tests) against the flows, in-process on a real Redis."""
    from demo.backend import run_backend_in_thread
    from ivr.flowlang.scenarios import run_scenario_files
    from webhooks import create_app
    settings = _settings()
    targets = [Path(p) for p in paths] or [settings.flows_dir / "tests"]
    report = run_scenario_files(targets, flows_dir=settings.flows_dir, make_app=create_app,
                                start_backend=run_backend_in_thread, echo=click.echo, verbose=verbose)
    if not report.ok:
        sys.exit(1)


# -- calls ---------------------------------------------------------------------------------------------------------
@main.group()
def calls() -> None:
    """The call log."""


@calls.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def calls_list(limit: int, as_json: bool) -> None:
    """Recent calls, newest first."""
    from ivr.store.calllog import CallLog
    settings = _settings()
    entries = CallLog(_redis(settings), settings.calllog_ttl).list(limit=limit)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for call in entries:
        started = datetime.fromtimestamp(float(call.get("started_at") or 0), timezone.utc)
        click.echo(f"{call['call_sid']}  {started:%Y-%m-%d %H:%M:%S}Z  {call.get('caller', ''):<14} → "
                   f"{call.get('called', ''):<14} {call.get('flow', ''):<10} v{call.get('version', '?'):<3} "
                   f"{call.get('status') or 'in-progress':<11} {call.get('disposition') or ''}")


@calls.command("show")
@click.argument("call_sid")
@click.option("--json", "as_json", is_flag=True)
def calls_show(call_sid: str, as_json: bool) -> None:
    """One call, step by step."""
    from ivr.store.calllog import CallLog
    settings = _settings()
    record = CallLog(_redis(settings), settings.calllog_ttl).get(call_sid)
    if record is None:
        raise click.ClickException(f"no call {call_sid} in the call log")
    if as_json:
        click.echo(json.dumps(record, indent=2))
        return
    click.echo(format_call(record))


def format_call(record: dict[str, Any]) -> str:
    """Human-readable call log entry: header then one line per step."""
    started = float(record.get("started_at") or 0)
    lines = [f"call {record['call_sid']}  from {record.get('caller', '')} to {record.get('called', '')}",
             f"  flow {record.get('flow', '')} version {record.get('version', '?')}, status "
             f"{record.get('status') or 'in-progress'}, disposition {record.get('disposition') or '-'}, "
             f"duration {record.get('duration') or 0}s"]
    if record.get("transcript_status"):
        said = record.get("transcript")
        lines.append(f"  voicemail transcript ({record.get('transcript_language') or '?'}, "
                     f"{record['transcript_status']}): "
                     f"{repr(said) if said is not None else record.get('transcript_error') or 'pending'}")
    for entry in record.get("steps", []):
        offset = float(entry.get("at", started)) - started
        detail = {k: v for k, v in entry.items() if k not in ("flow", "node", "kind", "outcome", "at")}
        extras = "  ".join(f"{k}={v}" for k, v in detail.items())
        lines.append(f"  +{offset:6.1f}s  {entry.get('flow', '')}.{entry.get('node', '')} [{entry.get('kind', '')}] "
                     f"{entry.get('outcome', '')}  {extras}".rstrip())
    return "\n".join(lines)


@calls.command("stats")
@click.option("--day", default=lambda: datetime.now(timezone.utc).date().isoformat(), show_default="today (UTC)")
def calls_stats(day: str) -> None:
    """Finished calls of one day by flow, disposition and status (counted by the RQ worker)."""
    from ivr.jobs.tasks import daily_stats
    stats = daily_stats(_redis(_settings()), day)
    if not stats:
        click.echo(f"no finished calls counted for {day}")
        return
    click.echo(f"{day}: {stats.pop('calls', 0)} calls")
    for name, count in sorted(stats.items()):
        click.echo(f"  {name:<32} {count}")


# -- accounts ------------------------------------------------------------------------------------------------------
@main.group()
def accounts() -> None:
    """Console accounts: agents and supervisors who sign in to the browser consoles."""


def _new_password(password: str | None) -> str:
    """The password given, else $IVR_PASSWORD, else asked twice (never shown)."""
    password = password or os.environ.get("IVR_PASSWORD")
    if password:
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@accounts.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["agent", "supervisor"]), required=True)
@click.option("--agent", "agent_id", default=None, help="The routing agent an agent account works as "
                                                        "(default: the username).")
@click.option("--name", default="", help="Display name (default: the agent's name or the username).")
@click.option("--password", default=None, help="Prefer $IVR_PASSWORD or the prompt: options show in 'ps'.")
def accounts_add(username: str, role: str, agent_id: str | None, name: str, password: str | None) -> None:
    """Create a console account. An agent account works as a routing agent created by 'ivr agents add'."""
    from ivr.store.accounts import AccountError, AccountStore, Role
    from routing.acd import Distributor
    redis = _redis(_settings())
    if role == Role.AGENT.value:
        agent_id = agent_id or username
        agent = Distributor(redis).agent(agent_id)
        if agent is None:
            raise click.ClickException(f"there is no agent '{agent_id}': create it first with 'ivr agents add'")
        name = name or agent.name
    try:
        account = AccountStore(redis).create(username, _new_password(password), Role(role), name=name,
                                             agent_id=agent_id)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"account {account.username} ({account.role.value}"
               + (f", agent {account.agent_id}" if account.agent_id else "") + ") created")


@accounts.command("list")
def accounts_list() -> None:
    """Every console account with its role."""
    from ivr.store.accounts import AccountStore
    for account in AccountStore(_redis(_settings())).all():
        state = "disabled" if account.disabled else "enabled"
        click.echo(f"{account.username:<20} {account.role.value:<11} {state:<9} {account.agent_id or '':<12} "
                   f"{account.name}")


@accounts.command("password")
@click.argument("username")
@click.option("--password", default=None, help="Prefer $IVR_PASSWORD or the prompt: options show in 'ps'.")
def accounts_password(username: str, password: str | None) -> None:
    """Set a new password (ends the account's sessions)."""
    from ivr.store.accounts import AccountError, AccountStore
    try:
        AccountStore(_redis(_settings())).set_password(username, _new_password(password))
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"password of {username} changed")


@accounts.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again instead.")
def accounts_disable(username: str, enable: bool) -> None:
    """Disable an account (ending its sessions), or enable it again."""
    from ivr.store.accounts import AccountError, AccountStore
    try:
        AccountStore(_redis(_settings())).set_disabled(username, not enable)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"{username} {'enabled' if enable else 'disabled'}")


# -- agents --------------------------------------------------------------------------------------------------------
@main.group()
def agents() -> None:
    """Agents of the call distributor."""


def _skill_levels(values: tuple[str, ...]) -> dict[str, int]:
    skills = {}
    for value in values:
        name, _, level = value.partition("=")
        if not name or (level and not level.isdigit()):
            raise click.BadParameter(f"{value!r}: use skill or skill=level (1-10)", param_hint="--skill")
        skills[name] = int(level or 1)
    return skills


@agents.command("add")
@click.argument("agent_id")
@click.option("--name", required=True)
@click.option("--skill", "skills", multiple=True, help="skill=level (1-10), repeatable")
@click.option("--language", "languages", multiple=True, help="repeatable, e.g. en, es")
@click.option("--capacity", default=1, show_default=True)
@click.option("--contact", default="", help="client:IDENTITY, a phone number or a sip: address")
def agents_add(agent_id: str, name: str, skills: tuple[str, ...], languages: tuple[str, ...], capacity: int,
               contact: str) -> None:
    """Create or update an agent and print a new API token for them (shown once)."""
    from ivr.store.tokens import AgentTokens
    from routing.acd import Agent, Distributor
    from routing.errors import RoutingError
    redis = _redis(_settings())
    try:
        agent = Agent(agent_id, name, _skill_levels(skills), languages, capacity, contact or f"client:{agent_id}")
    except RoutingError as e:
        raise click.ClickException(str(e)) from e
    Distributor(redis).register(agent)
    click.echo(f"agent {agent_id}: skills {dict(agent.skills)}, contact {agent.contact}")
    click.echo(f"token (keep it secret, shown once): {AgentTokens(redis).issue(agent_id)}")


@agents.command("list")
def agents_list() -> None:
    """Agents with their status and current load."""
    from routing.acd import Distributor
    acd = Distributor(_redis(_settings()))
    for agent in acd.all_agents():
        status, load = acd.status(agent.id)
        skills = ", ".join(f"{s}={lvl}" for s, lvl in sorted(agent.skills.items()))
        click.echo(f"{agent.id:<12} {agent.name:<20} {status.value:<10} load {load}/{agent.capacity}  {skills}")


@agents.command("simulate")
@click.option("--url", required=True, help="The IVR server.")
@click.option("--token", required=True, envvar="IVR_AGENT_TOKEN", help="The agent's API token.")
@click.option("--decline", is_flag=True, help="Decline every offer instead of accepting.")
@click.option("--calls", type=int, default=None, help="Stop after this many offers.")
def agents_simulate(url: str, token: str, decline: bool, calls: int | None) -> None:
    """Play an agent at a console: go available and take the calls offered (Ctrl-C to stop)."""
    from ivr.simulator import SimulatedAgent
    agent = SimulatedAgent(url, token, accept=not decline, on_event=click.echo)
    try:
        agent.work(max_calls=calls)
    except KeyboardInterrupt:
        agent.stop()


# -- speech --------------------------------------------------------------------------------------------------------
@main.group()
def speech() -> None:
    """Speech recognition models."""


@speech.command("models")
@click.option("--dir", "models_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Models directory (default: $IVR_SPEECH_MODELS_DIR, else ~/.local/share/ivr/speech-models).")
def speech_models(models_dir: Path | None) -> None:
    """Installed Vosk models and the languages they serve (model packages, and the models directory)."""
    from speech.models import default_models_dir, discover
    directory = models_dir or default_models_dir()
    models = discover(directory)
    if not models:
        click.echo(f"no speech models installed (models directory {directory}): flows still work by keys")
        return
    for model in models:
        click.echo(f"{model.language:<8} {model.size_bytes() / 1e6:>7.0f} MB  {model.source}  ({model.path})")
    click.echo(f"models directory: {directory}")


@speech.command("download")
@click.argument("language", required=False)
@click.option("--name", default=None, help="A model by its catalogue name, e.g. vosk-model-small-en-us-0.15.")
@click.option("--big", is_flag=True, help="The language's big (server) model instead of the small one.")
@click.option("--dir", "models_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to install (default: $IVR_SPEECH_MODELS_DIR, else ~/.local/share/ivr/speech-models).")
def speech_download(language: str | None, name: str | None, big: bool, models_dir: Path | None) -> None:
    """Download an official Vosk model for LANGUAGE (en, en-US, ko...), checked against the catalogue's MD5.

    Small models are chosen unless --big or --name: they are made for telephone-quality speech and load fast.
    The catalogue is $IVR_VOSK_MODELS_URL (default: alphacephei.com's model-list.json)."""
    from speech.download import DownloadError, choose, download, fetch_catalogue
    from speech.models import default_models_dir
    if not language and not name:
        raise click.UsageError("give a LANGUAGE (for example en-US) or --name")
    directory = models_dir or default_models_dir()
    try:
        model = choose(fetch_catalogue(), language or "", name=name, big=big)
        click.echo(f"{model.name}: {model.lang_text or model.lang}, {model.type}, {model.size_text or model.size} "
                   f"from {model.url}")
        with click.progressbar(length=max(model.size, 1), label="downloading", show_pos=False,
                               file=sys.stderr) as bar:
            path = download(model, directory, on_progress=bar.update)
    except DownloadError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"installed {model.name} ({model.lang}) in {path}")


# -- prompts -------------------------------------------------------------------------------------------------------
@main.group()
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


# -- running -------------------------------------------------------------------------------------------------------
@main.command()
@click.option("--burst", is_flag=True, help="Work until the queue is empty, then exit.")
def worker(burst: bool) -> None:
    """Run an RQ worker for the IVR's background jobs."""
    from rq import Queue, Worker
    from ivr.jobs.tasks import QUEUE_NAME, startup_sweep
    redis = _redis(_settings())
    Queue(QUEUE_NAME, connection=redis).enqueue(startup_sweep, result_ttl=600)  # what a dead worker left
    Worker([QUEUE_NAME], connection=redis).work(burst=burst, with_scheduler=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
@click.option("--workers", default=DEFAULT_WORKERS, show_default=True, help="gunicorn worker processes")
@click.option("--worker-class", default=DEFAULT_WORKER_CLASS, show_default=True,
              help="gunicorn worker class (gthread carries webhooks, event streams and media-stream WebSockets)")
@click.option("--threads", default=DEFAULT_THREADS, show_default=True,
              help="threads per worker: each open media stream or agent event stream holds one")
@click.option("--no-worker", is_flag=True, help="Do not start an RQ worker.")
def serve(host: str, port: int, workers: int, worker_class: str, threads: int, no_worker: bool) -> None:
    """Run the IVR server (gunicorn) and an RQ worker; without REDIS_URL, on the project's own Redis."""
    from ivr.runner.processes import running_stack
    with running_stack(host=host, port=port, workers=workers, threads=threads, with_worker=not no_worker,
                       worker_class=worker_class) as stack:
        click.echo(f"IVR listening on {stack.base_url} (Redis {stack.redis_url}). Point your Twilio number's voice "
                   f"webhook at $IVR_PUBLIC_URL/twilio/voice and its status callback at /twilio/status.")
        click.echo(f"Try it: ivr call --url {stack.base_url}     (Ctrl-C stops everything)")
        click.echo(f"Consoles: {stack.base_url}/ — sign in with an account from 'ivr accounts add'.")
        _wait_forever(stack)


def _wait_forever(stack) -> None:
    import signal
    import time
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while all(p.poll() is None for p in stack.processes):
            time.sleep(0.5)
        click.echo("a server process exited; stopping", err=True)
    except KeyboardInterrupt:
        click.echo("stopping")


@main.command()
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


def _demo_accounts(redis: Any, base_url: str) -> None:
    """Console accounts for the demo: supervisor 'sam' and agent 'ana' (billing, English), new passwords printed."""
    import secrets

    from ivr.store.accounts import AccountStore, Role
    from routing.acd import Agent, Distributor
    Distributor(redis).register(Agent("ana", "Ana Lopez", {"billing": 7, "english": 5}, ("en",), 1, "client:ana"))
    store = AccountStore(redis)
    click.echo(f"consoles at {base_url}/ (new passwords each demo):")
    for username, role, name, agent_id in (("sam", Role.SUPERVISOR, "Sam Rivera", None),
                                           ("ana", Role.AGENT, "Ana Lopez", "ana")):
        password = secrets.token_urlsafe(9)
        if store.get(username) is None:
            store.create(username, password, role, name=name, agent_id=agent_id)
        else:
            store.set_password(username, password)
        click.echo(f"  {role.value:<10} {username} / {password}")


@main.command()
@click.option("--port", default=8080, show_default=True)
@click.option("--once", is_flag=True, help="Stop after the demo call instead of serving until Ctrl-C.")
def demo(port: int, once: bool) -> None:
    """Run everything locally and place a demo call that ends with a (simulated) agent."""
    from demo.backend import run_backend_in_thread
    from ivr.store.tokens import AgentTokens
    from ivr.runner.processes import running_stack
    from ivr.simulator import (
        HttpTransport, ScriptedCaller, SimulatedAgent, Simulator, TwilioRestStandIn,
    )
    from routing.acd import Agent, Distributor
    backend_url, stop_backend = run_backend_in_thread()
    rest = TwilioRestStandIn().start()
    click.echo(f"sample Northwind Energy backend on {backend_url}; Twilio's REST API simulated on {rest.url}")
    try:
        with running_stack(host="127.0.0.1", port=port, workers=2, threads=DEFAULT_THREADS, with_worker=True, quiet=True,
                           env_overrides={"IVR_SERVICE_BILLING_URL": backend_url, "TWILIO_API_URL": rest.url,
                                          "IVR_FLOWS_DIR": str(_settings().flows_dir)}) as stack:
            click.echo(f"IVR server on {stack.base_url}, RQ worker running, Redis at {stack.redis_url}")
            os.environ["TWILIO_AUTH_TOKEN"] = stack.auth_token
            os.environ["REDIS_URL"] = stack.redis_url
            redis = _redis(_settings())
            Distributor(redis).register(Agent("olivia", "Olivia", {"outages": 6, "english": 5}, ("en",), 1,
                                              "client:olivia"))
            _demo_accounts(redis, stack.base_url)
            agent = SimulatedAgent(stack.base_url, AgentTokens(redis).issue("olivia"), on_event=click.echo)
            agent_thread = agent.start_thread(max_calls=1)
            click.echo(f"\ndemo call from {DEMO_CALLER} to {DEMO_NUMBER}: English, account balance for 12345674, "
                       "then a power outage report that reaches the outage team\n")
            caller = ScriptedCaller(["1", "1", "12345674#", "1", "9", "2", "10003"])
            sim = Simulator(HttpTransport(stack.base_url), stack.auth_token, rest=rest, queue_patience=30)
            result = sim.place_call(DEMO_CALLER, DEMO_NUMBER, caller,
                                    on_event=_print_event)
            click.echo(f"  outcome: {result.outcome}\n")
            agent_thread.join(timeout=30)
            from ivr.store.calllog import CallLog
            record = CallLog(redis, _settings().calllog_ttl).get(result.call_sid)
            click.echo("the call log (ivr calls show):")
            click.echo(format_call(record) if record else "  (not found)")
            if once:
                agent.stop()
                return
            click.echo(f"\nThe system keeps running: try  ivr call --url {stack.base_url}  in another terminal "
                       "(Ctrl-C stops everything).")
            _wait_forever(stack)
            agent.stop()
    finally:
        rest.stop()
        stop_backend()

