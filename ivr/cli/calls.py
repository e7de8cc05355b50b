"""``ivr calls``: the call log, one call step by step, and the day's statistics."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import click

from ivr.cli.common import _redis, _settings


@click.group()
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
    from ivr.jobs.stats import daily_stats
    stats = daily_stats(_redis(_settings()), day)
    if not stats:
        click.echo(f"no finished calls counted for {day}")
        return
    click.echo(f"{day}: {stats.pop('calls', 0)} calls")
    for name, count in sorted(stats.items()):
        click.echo(f"  {name:<32} {count}")
