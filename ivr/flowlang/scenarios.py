"""Flow scenario tests (``flows/tests/*.yaml``), run by ``ivr flows test`` and by the project's own test suite.

Each scenario is a simulated call through the real webhooks, in-process, against a real Redis: the simulator
signs every request as Twilio does, presses the scenario's keys, checks what the caller hears, and the outcome is
compared with ``expect`` (node, queue and skills, transfer, voicemail, hang-up, disposition, said). The runner is
given the app to call (``webhooks.create_app``) and the sample lookup backend (``demo.backend``) by its caller: the
flow language does not import the layers above it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator

from ivr.config import Settings
from ivr.errors import IvrError
from ivr.flowlang.yamlsource import YamlSyntaxError, format_path, load
from ivr.simulator import HANGUP, CallResult, GatherInfo, HttpTransport, LoopbackServer, ScriptedCaller, Simulator
from ivr.simulator.transcript import format_transcript
from routing.model import Agent, AgentStatus

STEP = {"anyOf": [
    {"type": "string", "enum": ["silence", "hangup"]},
    {"type": "object", "properties": {"press": {"type": ["string", "integer"]}}, "required": ["press"],
     "additionalProperties": False},
    {"type": "object", "properties": {"hear": {"type": "string"}}, "required": ["hear"],
     "additionalProperties": False},
    {"type": "object", "properties": {"say": {"type": "string", "minLength": 1}, "voice": {"type": "string"}},
     "required": ["say"], "additionalProperties": False},
    {"type": "object", "properties": {"play": {"type": "string", "minLength": 1}}, "required": ["play"],
     "additionalProperties": False},
]}
AGENT = {"type": "object", "properties": {
    "id": {"type": "string"}, "skills": {"type": "object"}, "status": {"type": "string"},
    "capacity": {"type": "integer"}}, "required": ["id"], "additionalProperties": False}
CALL_KEYS = {"to": {"type": "string"}, "from": {"type": "string"}, "at": {"type": "string"},
             "timezone": {"type": "string"}, "dial_status": {"type": "string"}, "queue_result": {"type": "string"},
             "agents": {"type": "array", "items": AGENT}}
SCENARIO_FILE = {
    "type": "object",
    "properties": {
        "services": {"type": "object", "additionalProperties": {"type": "string"}},
        "defaults": {"type": "object", "properties": CALL_KEYS, "additionalProperties": False},
        "scenarios": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "steps": {"type": "array", "items": STEP},
                           "expect": {"type": "object", "properties": {
                               "node": {"type": "string"}, "queue": {"type": "string"},
                               "skills": {"type": "object"}, "priority": {"type": "integer"},
                               "transfer": {"type": "string"}, "voicemail": {"type": "boolean"},
                               "hangup": {"type": "boolean"}, "disposition": {"type": "string"},
                               "said": {"type": "array", "items": {"type": "string"}},
                               "offered_to": {"type": ["string", "null"]}},
                               "additionalProperties": False},
                           **CALL_KEYS},
            "required": ["name", "steps", "expect"], "additionalProperties": False}},
    },
    "required": ["scenarios"],
    "additionalProperties": False,
}


class MakeApp(Protocol):
    """Builds the WSGI app a scenario calls (``webhooks.create_app``); the app exposes its services as
    ``app.extensions["ivr"]``."""

    def __call__(self, settings: Settings, *, redis_client: Any, clock: Callable[[], datetime]) -> Any: ...


#: Serves the sample lookup backend (``demo.backend.run_backend_in_thread``): returns its base URL and a function
#: that stops it. Called once, when a scenario file's ``services`` names ``sample``.
StartBackend = Callable[[], tuple[str, Callable[[], None]]]


class ScenarioError(IvrError):
    """A scenario file is malformed."""


@dataclass
class ScenarioResult:
    file: str
    name: str
    problems: list[str] = field(default_factory=list)
    transcript: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Report:
    results: list[ScenarioResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.ok for r in self.results)


class _ScenarioCaller(ScriptedCaller):
    """Plays a scenario's steps, checking every ``hear`` against what was said since the caller last acted."""

    def __init__(self, steps: list[Any], problems: list[str], directory: Path = Path("."), **kw: Any):
        super().__init__(**kw)
        self.steps = list(steps)
        self.problems = problems
        self.directory = directory

    def check_heard(self, heard: Iterable[str]) -> None:
        text = " ".join(heard)
        while self.steps and isinstance(self.steps[0], dict) and "hear" in self.steps[0]:
            expected = self.steps.pop(0)["hear"]
            if expected.lower() not in text.lower():
                self.problems.append(f"expected to hear {expected!r}, heard {text!r}")

    def gather(self, info: GatherInfo) -> str | None:
        self.check_heard(info.heard)
        if not self.steps:
            return HANGUP
        step = self.steps.pop(0)
        if step == "silence":
            return None
        if step == "hangup":
            return HANGUP
        if "say" in step:  # spoken into the media stream (espeak-ng), as "say[voice]:words"
            return f"say[{step['voice']}]:{step['say']}" if step.get("voice") else f"say:{step['say']}"
        if "play" in step:  # a recording of the caller, relative to the scenario file
            return f"wav:{self.directory / step['play']}"
        return str(step["press"])


def load_scenarios(path: Path) -> dict[str, Any]:
    """Parse and check one scenario file; :class:`ScenarioError` names file, line and path."""
    try:
        data, smap = load(path.read_text(encoding="utf-8"), str(path))
    except YamlSyntaxError as e:
        raise ScenarioError(str(e.diagnostic)) from e
    errors = []
    for err in Draft202012Validator(SCENARIO_FILE).iter_errors(data):
        where = tuple(err.absolute_path)
        errors.append(f"{path}:{smap.line(where)}: {format_path(where)}: {err.message}")
    if errors:
        raise ScenarioError("\n".join(errors))
    return data


def _moment(spec: dict[str, Any]) -> datetime:
    tz = ZoneInfo(spec.get("timezone", "UTC"))
    if "at" not in spec:
        return datetime.now(tz)
    return datetime.fromisoformat(spec["at"].replace(" ", "T")).replace(tzinfo=tz)


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(ZoneInfo("UTC"))

    def __call__(self) -> datetime:
        return self.now


def run_scenarios(files: list[Path], *, flows_dir: Path, redis_client: Any, make_app: MakeApp,
                  start_backend: StartBackend, echo: Callable[[str], None] = lambda line: None,
                  verbose: bool = False) -> Report:
    """Run every scenario of ``files`` against ``flows_dir``, using (and flushing) ``redis_client``'s database:
    each call goes to an app built by ``make_app``, lookups of a ``sample`` service to ``start_backend``'s."""
    report = Report()
    sample_backend: tuple[str, Callable[[], None]] | None = None
    try:
        for path in files:
            try:
                data = load_scenarios(path)
            except ScenarioError as e:
                report.results.append(ScenarioResult(str(path), "(file)", [str(e)]))
                echo(f"FAIL {path}\n{e}")
                continue
            services: dict[str, str] = {}
            for name, url in (data.get("services") or {}).items():
                if url == "sample":
                    if sample_backend is None:
                        sample_backend = start_backend()
                    url = sample_backend[0]
                services[name.lower()] = url
            defaults = data.get("defaults") or {}
            for scenario in data["scenarios"]:
                spec = {**defaults, **scenario}
                result = _run_one(path, spec, flows_dir, services, redis_client, make_app)
                report.results.append(result)
                echo(f"{'ok  ' if result.ok else 'FAIL'} {path.name}: {result.name}")
                for problem in result.problems:
                    echo(f"       {problem}")
                if verbose or not result.ok:
                    echo(result.transcript)
    finally:
        if sample_backend is not None:
            sample_backend[1]()
    passed = sum(r.ok for r in report.results)
    echo(f"{passed} of {len(report.results)} scenarios passed")
    return report


def _run_one(path: Path, spec: dict[str, Any], flows_dir: Path, services: dict[str, str], redis_client: Any,
             make_app: MakeApp) -> ScenarioResult:
    result = ScenarioResult(str(path), spec["name"])
    redis_client.flushdb()
    clock = _Clock()
    clock.now = _moment(spec)
    token = secrets.token_hex(16)
    settings = replace(Settings.from_env({}), twilio_auth_token=token, flows_dir=flows_dir, services=services)
    app = make_app(settings, redis_client=redis_client, clock=clock)
    if app.extensions["ivr"].repo.store.current_version() is None:
        result.problems.append(f"the flows in {flows_dir} are not valid: run 'ivr flows check'")
        return result
    router = app.extensions["ivr"].calls.router
    for agent in spec.get("agents", []):
        router.register(Agent(agent["id"], agent["id"], dict(agent.get("skills", {})),
                              capacity=int(agent.get("capacity", 1))))
        router.set_status(agent["id"], AgentStatus(agent.get("status", "available")),
                          int(clock.now.timestamp() * 1000))
    caller = _ScenarioCaller(spec["steps"], result.problems, path.parent, dial=spec.get("dial_status", "completed"),
                             queue=spec.get("queue_result", "hangup"))
    with LoopbackServer(app) as server:  # real sockets: speech prompts are WebSocket media streams
        sim = Simulator(HttpTransport(server.base_url), token)
        call = sim.place_call(spec.get("from", "+15551230000"), spec.get("to", "+15550100100"), caller)
    caller.check_heard(_heard_at_end(call))
    leftover = [s for s in caller.steps]
    if leftover:
        result.problems.append(f"the call ended ({call.outcome}) before these steps: {leftover}")
    _check_expectations(spec["expect"], call, app, result.problems)
    result.transcript = format_transcript(call)
    return result


def _heard_at_end(call: CallResult) -> list[str]:
    heard: list[str] = []
    for event in call.events:
        if event.kind == "gather":
            heard = []
        elif event.kind == "say":
            heard.append(event.data["text"])
    return heard


def _check_expectations(expect: dict[str, Any], call: CallResult, app: Any, problems: list[str]) -> None:
    services = app.extensions["ivr"]
    state = services.calls.session(call.call_sid)
    record = services.calllog.get(call.call_sid) or {}
    for error in call.errors:
        problems.append(f"Twilio would fail this call: {error}")
    if "node" in expect:
        where = f"{state.flow}.{state.node}" if state else "(no session)"
        if where != expect["node"]:
            problems.append(f"expected the call to end at {expect['node']}, it ended at {where}")
    if "queue" in expect:
        queues = [e.data["queue"] for e in call.of_kind("enqueue")]
        if expect["queue"] not in queues:
            problems.append(f"expected to be queued in {expect['queue']!r}, queued in {queues or 'nothing'}")
        routing = (state.routing if state else None) or {}
        if "skills" in expect and routing.get("skills") != expect["skills"]:
            problems.append(f"expected skills {expect['skills']}, the routing request has {routing.get('skills')}")
        if "priority" in expect and routing.get("priority") != expect["priority"]:
            problems.append(f"expected priority {expect['priority']}, got {routing.get('priority')}")
    if "transfer" in expect:
        targets = [e.data["target"] for e in call.of_kind("dial")]
        if expect["transfer"] not in targets:
            problems.append(f"expected a transfer to {expect['transfer']}, got {targets or 'none'}")
    if expect.get("voicemail") and not call.of_kind("record"):
        problems.append("expected a voicemail recording, there was none")
    if expect.get("hangup") and call.outcome != "hangup":
        problems.append(f"expected the IVR to hang up, the call ended with {call.outcome}")
    if "disposition" in expect and record.get("disposition") != expect["disposition"]:
        problems.append(f"expected disposition {expect['disposition']}, got {record.get('disposition')}")
    if "offered_to" in expect:
        offered = [s.get("agent") for s in record.get("steps", []) if s.get("outcome") == "offered"]
        wanted = expect["offered_to"]
        if (wanted is None and offered) or (wanted is not None and wanted not in offered):
            problems.append(f"expected the call to be offered to {wanted}, offered to {offered or 'nobody'}")
    said = " ".join(call.said).lower()
    for text in expect.get("said", []):
        if text.lower() not in said:
            problems.append(f"expected {text!r} to be said during the call")


def scenario_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    return files


def run_scenario_files(paths: list[Path], *, flows_dir: Path, make_app: MakeApp, start_backend: StartBackend,
                       echo: Callable[[str], None], verbose: bool = False) -> Report:
    """``ivr flows test``: run scenarios on the project's own throw-away Redis (never a configured one)."""
    from ivr.runner.redis import EmbeddedRedis, connect
    files = scenario_files(paths)
    if not files:
        echo(f"no scenario files in {', '.join(map(str, paths))}")
        return Report()
    with EmbeddedRedis() as server:
        return run_scenarios(files, flows_dir=flows_dir, redis_client=connect(server.url), make_app=make_app,
                             start_backend=start_backend, echo=echo, verbose=verbose)
