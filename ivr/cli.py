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
from ivr.errors import FlowError, IvrError, StoreError

REDIS_URL_FILE = Path(".ivr") / "redis.url"


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as e:
        raise click.UsageError(str(e)) from e


def _redis(settings: Settings):
    """Redis from REDIS_URL, or the embedded server a running ``ivr serve`` / ``ivr demo`` recorded."""
    from ivr.redisserver import connect
    url = settings.redis_url
    if not url and REDIS_URL_FILE.exists():
        url = REDIS_URL_FILE.read_text().strip()
    if not url:
        raise click.ClickException("REDIS_URL is not set and no 'ivr serve' is running here (.ivr/redis.url)")
    client = connect(url)
    try:
        client.ping()
    except Exception as e:
        raise click.ClickException(f"cannot reach Redis at {url}: {e}") from e
    return client


def _repo(settings: Settings):
    from ivr.flowrepo import FlowRepository
    from ivr.store import FlowStore
    return FlowRepository(FlowStore(_redis(settings)), settings.services)


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
    """Validate flow files or directories (default: $IVR_FLOWS_DIR). Exit 0 when valid, 1 when not."""
    from ivr.flowcheck import check_files
    targets = list(paths) or [str(_settings().flows_dir)]
    diagnostics = check_files(targets)
    for diagnostic in diagnostics:
        click.echo(str(diagnostic))
    if diagnostics:
        click.echo(f"{len(diagnostics)} problem{'s' if len(diagnostics) != 1 else ''} found", err=True)
        sys.exit(1)
    click.echo(f"ok: {', '.join(targets)}")


@flows.command("publish")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("-m", "--message", default="", help="What changed (kept in the history).")
@click.option("--author", default=lambda: os.environ.get("USER") or getpass.getuser(), show_default="$USER")
def flows_publish(directory: str | None, message: str, author: str) -> None:
    """Validate the flows directory and make it the live version (new calls only; running calls keep theirs)."""
    settings = _settings()
    directory = directory or str(settings.flows_dir)
    repo = _repo(settings)
    before = repo.store.current_version()
    try:
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
        version = repo.store.rollback(repo.validate, to=to, author=os.environ.get("USER", ""))
    except (StoreError, FlowError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"version {version} is live")


@flows.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("-v", "--verbose", is_flag=True, help="Print each call's transcript.")
def flows_test(paths: tuple[str, ...], verbose: bool) -> None:
    """Run flow scenario tests (default: $IVR_FLOWS_DIR/tests) against the flows, in-process on a real Redis."""
    from ivr.flowtest import run_scenario_files
    settings = _settings()
    targets = [Path(p) for p in paths] or [settings.flows_dir / "tests"]
    report = run_scenario_files(targets, flows_dir=settings.flows_dir, echo=click.echo, verbose=verbose)
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
    from ivr.calllog import CallLog
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
    from ivr.calllog import CallLog
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
    for entry in record.get("steps", []):
        offset = float(entry.get("at", started)) - started
        detail = {k: v for k, v in entry.items() if k not in ("flow", "node", "kind", "outcome", "at")}
        extras = "  ".join(f"{k}={v}" for k, v in detail.items())
        lines.append(f"  +{offset:6.1f}s  {entry.get('flow', '')}.{entry.get('node', '')} [{entry.get('kind', '')}] "
                     f"{entry.get('outcome', '')}  {extras}".rstrip())
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
