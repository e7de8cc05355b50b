"""``ivr flows``: check, publish, list, roll back, export and test the call flows."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import click

from ivr.cli.common import _repo, _settings
from ivr.errors import FlowError, StoreError


@click.group()
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
