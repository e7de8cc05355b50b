"""Calls for the call history tests, placed through the real webhooks by the simulator against the sample flows
(with the sample billing backend on loopback), at known moments of a fixed clock."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ivr.config import Settings
from ivr.simulator import ScriptedCaller, Simulator, WsgiTransport
from ivr.store.accounts import AccountStore, Role
from webhooks import create_app

from consoles import PASSWORD

TOKEN = "test-auth-token"
SAMPLES = Path(__file__).resolve().parent.parent / "flows"
#: Monday 23 November 2026, 10:00 in New York: the office is open. Each call starts an hour after the previous.
OPEN = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
ENGLISH_LINE = "+15550100101"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class PlacedCalls:
    self_service: str    # +15551230001 asks for the opening hours, then stays silent until goodbye
    abandoned: str       # +15551230002 asks for an agent (none signed in) and hangs up at the voicemail offer
    balance: str         # +15551230003 hears their balance (a lookup), then stays silent until goodbye
    voicemail: str       # +15559990004 asks for an agent, then leaves a message


def make_app(redis, tmp_path, backend_url: str, clock: Clock):
    flows = tmp_path / "flows"
    shutil.copytree(SAMPLES, flows)
    settings = replace(Settings(), twilio_auth_token=TOKEN, flows_dir=flows, api_token="api-secret",
                       services={"billing": backend_url})
    app = create_app(settings, redis_client=redis, clock=clock)
    store = AccountStore(redis)
    store.create("sam", PASSWORD, Role.SUPERVISOR, name="Sam Rivera")
    return app


def place_calls(app, clock: Clock) -> PlacedCalls:
    sim = Simulator(WsgiTransport(app), TOKEN)
    sids = []
    for i, (caller, keys) in enumerate([
            ("+15551230001", ["3"]),
            ("+15551230002", ["0"]),
            ("+15551230003", ["1", "12345674#", "1"]),
            ("+15559990004", ["0", "1"])]):
        clock.now = OPEN + timedelta(hours=i)
        exhausted = "hangup" if caller.endswith("2") else "silence"
        result = sim.place_call(caller, ENGLISH_LINE, ScriptedCaller(keys, on_exhausted=exhausted))
        assert not result.errors, result.errors
        sids.append(result.call_sid)
    return PlacedCalls(*sids)
