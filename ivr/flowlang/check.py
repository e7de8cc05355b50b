"""Load and validate a flow bundle: every problem at once, each located as ``file:line: path: message``.

``load_bundle(sources)`` is the only way to get a :class:`~ivr.flowlang.model.Bundle`: structure is checked against
:mod:`ivr.flowlang.schema`, then meaning (durations, patterns, templates, targets, schedules, services, variables) and
the shape of each flow's graph (unreachable nodes, dead ends, loops with no exit).
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any, Mapping, Sequence

from jsonschema import Draft202012Validator

from ivr.flowlang import schema as fs
from ivr.flowlang.conditions import Condition, parse_condition
from ivr.flowlang.durations import parse_duration
from ivr.errors import Diagnostic, FlowError, suggest
from ivr.flowlang.model import (
    Branch, Bundle, Collect, Flow, Hours, LookupSpec, Menu, MenuOption, Node, NodeKind, PausePart, PlayPart, Prompt,
    QueueSpec, Retry, SayPart, Speech, Transfer, Tts, Voicemail, normalize_number,
)
from ivr.flowlang.schedule import Schedule, ScheduleError, parse_schedule
from ivr.flowlang.sources import QUEUES_FILE_NAMES, flow_name, read_paths
from ivr.flowlang.templating import Template, TemplateError
from ivr.flowlang.yamlsource import Path, SourceMap, YamlSyntaxError, load
from routing.config import RoutingConfig, parse_queues
from routing.errors import QueueConfigError
from ivr.flowlang.speechcheck import SpeechChecks, model_warnings
from speech.models import discover

#: Variables every call has without defining them.
BUILTIN_VARIABLES = frozenset({
    "caller", "called", "call_sid", "flow", "language", "today", "now_time", "last_input", "hours",
    "recording_url", "recording_duration", "transfer_status", "queue_result", "lookup_status", "heard",
})
_KEYS = set("0123456789*#")
_VALIDATORS = {id(schema): Draft202012Validator(schema) for schema in [fs.FLOW, *fs.NODE_KINDS.values()]}


def load_bundle(sources: Mapping[str, str], *, service_urls: Mapping[str, str] | None = None) -> Bundle:
    """Validate ``{filename: yaml text}`` and build the bundle, or raise :class:`FlowError` with every problem.

    ``service_urls`` overrides the base URL of lookup services by name (``IVR_SERVICE_<NAME>_URL``).
    """
    checker = _BundleChecker(dict(sources), dict(service_urls or {}))
    return checker.run()


def check_files(paths: Sequence[str | FsPath], *, models_dir: str | FsPath | None = None) -> list[Diagnostic]:
    """Diagnostics for the given files or directories (empty when valid); used by ``ivr flows check``.

    Besides errors, a valid bundle gets a warning for each flow that listens for speech in a language no
    installed speech model (package, or directory in ``models_dir``) serves: such a flow works by keys only.
    """
    sources, diagnostics = read_paths(paths)
    if not sources and not diagnostics:
        diagnostics.append(Diagnostic(".", 1, "", "no flow files found"))
    if sources:
        diagnostics.extend(check_sources(sources, models_dir=models_dir))
    return sorted(diagnostics, key=lambda d: (d.file, d.line, d.path, d.message))


def check_sources(sources: Mapping[str, str], *, models_dir: str | FsPath | None = None,
                  service_urls: Mapping[str, str] | None = None) -> list[Diagnostic]:
    """Diagnostics for an in-memory bundle ``{filename: yaml text}`` (empty when valid), exactly as
    :func:`check_files` reports them for the same files: every error, or for a valid bundle its speech-model
    warnings. The supervisor console checks drafts with it."""
    try:
        bundle = load_bundle(sources, service_urls=service_urls)
    except FlowError as e:
        diagnostics = list(e.diagnostics)
    else:
        diagnostics = model_warnings(bundle, discover(models_dir))
    return sorted(diagnostics, key=lambda d: (d.file, d.line, d.path, d.message))


@dataclass
class _FileState:
    """Everything learnt about one file while checking it."""

    file: str
    name: str
    smap: SourceMap
    raw: dict[str, Any]
    defined: set[str] = field(default_factory=set)
    used: list[tuple[Path, str]] = field(default_factory=list)
    targets: list[tuple[Path, str, str]] = field(default_factory=list)  # (path, from node, target)
    subflows: list[tuple[Path, str]] = field(default_factory=list)
    schedules_used: list[tuple[Path, str]] = field(default_factory=list)
    queues_used: list[tuple[Path, str, dict[str, int]]] = field(default_factory=list)
    time_conditions: list[Path] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    speech: Speech | None = None
    speech_declared: bool = False
    intents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    loose_edges: list[tuple[str, str]] = field(default_factory=list)  # read from the raw YAML of broken nodes


class _BundleChecker(SpeechChecks):
    def __init__(self, sources: dict[str, str], service_urls: dict[str, str]):
        self.sources = sources
        self.service_urls = service_urls
        self.diagnostics: list[Diagnostic] = []
        self.files: dict[str, _FileState] = {}
        self.schedules: dict[str, Schedule] = {}
        self.schedule_origin: dict[str, str] = {}
        self.routing: RoutingConfig | None = None
        self.queues_file: str | None = None
        self.unread: dict[str, str] = {}  # flow name -> text, for flow files whose nodes could not be read

    # -- helpers -------------------------------------------------------------------------------------------------
    def error(self, state: _FileState | SourceMap, path: Path, message: str) -> None:
        smap = state.smap if isinstance(state, _FileState) else state
        self.diagnostics.append(smap.diag(path, message))

    def schema(self, st: _FileState, schema: dict[str, Any], instance: Any, base: Path) -> bool:
        """Check ``instance`` against ``schema``; report readable errors; True when it conforms."""
        validator = _VALIDATORS.get(id(schema)) or Draft202012Validator(schema)
        ok = True
        for err in validator.iter_errors(instance):
            ok = False
            path = base + tuple(err.absolute_path)
            if err.validator == "additionalProperties" and err.validator_value is False:
                allowed = list(err.schema.get("properties", {}))
                for key in err.instance:  # each unknown key on its own line
                    if key not in allowed:
                        self.error(st, path + (key,), f"unknown key '{key}'{suggest(key, allowed)}")
                continue
            self.error(st, path, _schema_message(err))
        return ok

    # -- run -----------------------------------------------------------------------------------------------------
    def run(self) -> Bundle:
        if not self.sources:
            raise FlowError([Diagnostic(".", 1, "", "no flow files")])
        for file, text in self.sources.items():
            if FsPath(file).name in QUEUES_FILE_NAMES:
                self.load_queues(file, text)
            else:
                self.load_file(file, text)
        for st in self.files.values():
            self.collect_schedules(st)
        flows: dict[str, Flow] = {}
        for st in self.files.values():
            flow = self.build_flow(st)
            if flow is not None:
                flows[flow.name] = flow
        self.check_cross_file()
        numbers, default = self.check_numbers()
        if self.diagnostics:
            raise FlowError(list(dict.fromkeys(self.diagnostics)))  # a shared default is reported once
        return Bundle(flows=flows, schedules=dict(self.schedules), numbers=numbers, default_flow=default,
                      sources={flow_name(f): t for f, t in self.sources.items()}, routing=self.routing)

    def load_queues(self, file: str, text: str) -> None:
        """The routing configuration: parsed by the routing package, located here with line numbers."""
        if self.queues_file is not None:
            self.diagnostics.append(Diagnostic(file, 1, "", f"{self.queues_file} already configures the queues"))
            return
        self.queues_file = file
        try:
            raw, smap = load(text, file)
        except YamlSyntaxError as e:
            self.diagnostics.append(e.diagnostic)
            return
        try:
            self.routing = parse_queues(raw)
        except QueueConfigError as e:
            for rel, message in e.problems:
                self.error(smap, _split_path(rel), message)
        self.queues_smap = smap

    def load_file(self, file: str, text: str) -> None:
        try:
            raw, smap = load(text, file)
        except YamlSyntaxError as e:
            self.diagnostics.append(e.diagnostic)
            self.unread[flow_name(file)] = text
            return
        name = flow_name(file)
        if not isinstance(raw, dict):
            self.diagnostics.append(Diagnostic(file, 1, "", "a flow file is a mapping with at least 'nodes'"))
            self.unread[name] = text
            return
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
            self.diagnostics.append(Diagnostic(file, 1, "", f"'{name}' is not a valid flow name: rename the file "
                                                            "to letters, digits, '_' and '-'"))
            return
        if name in {s.name for s in self.files.values()}:
            self.diagnostics.append(Diagnostic(file, 1, "", f"another file already defines flow '{name}'"))
            return
        st = _FileState(file, name, smap, raw)
        self.schema(st, fs.FLOW, raw, ())
        self.files[file] = st

    def collect_schedules(self, st: _FileState) -> None:
        schedules = st.raw.get("schedules")
        for sched_name, sched_raw in (schedules if isinstance(schedules, dict) else {}).items():
            if not isinstance(sched_raw, dict):
                continue
            if sched_name in self.schedules or sched_name in self.schedule_origin:
                self.error(st, ("schedules", sched_name),
                           f"schedule '{sched_name}' is already defined in {self.schedule_origin[sched_name]}")
                continue
            self.schedule_origin[sched_name] = st.file
            try:
                self.schedules[sched_name] = parse_schedule(sched_raw)
            except ScheduleError as e:
                for rel, message in e.problems:
                    self.error(st, ("schedules", sched_name, *_split_path(rel)), message)

    # -- one flow ------------------------------------------------------------------------------------------------
    def build_flow(self, st: _FileState) -> Flow | None:
        raw = st.raw
        nodes_raw = raw.get("nodes")
        if not isinstance(nodes_raw, dict) or not nodes_raw:
            self.unread[st.name] = self.sources.get(st.file, "")  # what it defines is unknown (as if unreadable)
            return None
        language = str(raw.get("language") or "en-US")
        voice = raw.get("voice")
        timezone = str(raw.get("timezone") or "UTC")
        if raw.get("timezone") is not None:
            self.check_timezone(st, timezone)
        # (malformed top-level values are reported by the schema: read what can be read, check the rest)
        inputs, variables = raw.get("inputs"), raw.get("variables")
        st.defined |= {v for v in inputs if isinstance(v, str)} if isinstance(inputs, list) else set()
        st.defined |= set(variables) if isinstance(variables, dict) else set()
        defaults = raw.get("defaults") if isinstance(raw.get("defaults"), dict) else {}
        services = raw.get("services") if isinstance(raw.get("services"), dict) else {}
        for svc, spec in services.items():
            if isinstance(spec, dict) and "timeout" in spec:
                self.duration(st, ("services", svc, "timeout"), spec["timeout"], 0.1, 30)
        st.intents = self.intents(st, raw.get("intents"))
        st.speech = self.flow_speech(st, raw.get("speech"), language, voice)
        for name, node_raw in nodes_raw.items():
            node = self.build_node(st, name, node_raw, language, voice, defaults, services)
            if node is not None:
                st.nodes[name] = node
            else:
                st.loose_edges += [(name, t) for t in _raw_targets(node_raw, defaults) if t in nodes_raw]
        start = raw.get("start", next(iter(nodes_raw)))
        if isinstance(start, str) and start not in nodes_raw:
            self.error(st, ("start",), f"no node '{start}'{suggest(start, nodes_raw)}")
        for path, _source, target in st.targets:
            if target not in nodes_raw:
                self.error(st, path, f"no node '{target}'{suggest(target, nodes_raw)}")
        if st.time_conditions and raw.get("timezone") is None:
            for path in st.time_conditions:
                self.error(st, path, "time, day and date conditions need the flow's 'timezone' "
                                     "(for example timezone: America/New_York)")
        known_start = start if isinstance(start, str) and start in nodes_raw else None
        self.check_graph(st, known_start, list(nodes_raw))
        if known_start is None or len(st.nodes) != len(nodes_raw) or any(d.file == st.file
                                                                         for d in self.diagnostics):
            return None  # the bundle will not be built: no flow needed
        return Flow(name=st.name, file=st.file, language=language, voice=voice, timezone=timezone, start=start,
                    nodes=dict(st.nodes), variables=dict(raw.get("variables") or {}),
                    inputs=tuple(raw.get("inputs") or ()), numbers=tuple(raw.get("numbers") or ()),
                    default=bool(raw.get("default")), speech=st.speech, speech_line=st.smap.line(("speech",)),
                    intents=dict(st.intents), tts=_tts(raw))

    def check_timezone(self, st: _FileState, tz: str) -> None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(st, ("timezone",), f"unknown timezone '{tz}'{suggest(tz, available_timezones())}")

    def duration(self, st: _FileState, path: Path, raw: Any, low: float, high: float) -> float | None:
        seconds = parse_duration(raw)
        if seconds is None:
            self.error(st, path, f"'{raw}' is not a duration (use 5s, 500ms, 2m or 1h)")
            return None
        if not low <= seconds <= high:
            self.error(st, path, f"{raw} is out of range ({_fmt_seconds(low)} to {_fmt_seconds(high)})")
            return None
        return seconds

    def template(self, st: _FileState, path: Path, raw: Any) -> Template:
        try:
            tpl = Template.parse(str(raw))
        except TemplateError as e:
            self.error(st, path, f"bad template: {e}")
            return Template.parse("")
        for name in tpl.names:
            st.used.append((path, name))
        return tpl

    def prompt(self, st: _FileState, path: Path, raw: Any, voice: str | None, language: str) -> Prompt:
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        parts = []
        for i, item in enumerate(items):
            item_path = path + (i,) if isinstance(raw, list) else path
            if isinstance(item, dict) and "play" in item:
                parts.append(PlayPart(str(item["play"])))
            elif isinstance(item, dict) and "pause" in item:
                seconds = self.duration(st, item_path + ("pause",), item["pause"], 1, 30)
                parts.append(PausePart(int(round(seconds or 1))))
            elif isinstance(item, dict) and "say" in item:
                parts.append(SayPart(self.template(st, item_path + ("say",), item["say"]),
                                     item.get("voice") or voice, item.get("language") or language, _tts(st.raw)))
            elif isinstance(item, (str, int, float)) and not isinstance(item, bool):
                parts.append(SayPart(self.template(st, item_path, item), voice, language, _tts(st.raw)))
        return tuple(parts)

    def target(self, st: _FileState, path: Path, node: str, target: Any) -> str | None:
        if target is None:
            return None
        st.targets.append((path, node, str(target)))
        return str(target)

    def retry(self, st: _FileState, path: Path, node: str, body: dict[str, Any], defaults: dict[str, Any],
              voice: str | None, language: str) -> Retry:
        def pick(key: str) -> tuple[Any, Path]:
            if key in body:
                return body[key], path + (key,)
            return defaults.get(key), ("defaults", key)

        timeout_raw, timeout_path = pick("timeout")
        timeout = 5.0
        if timeout_raw is not None:
            timeout = self.duration(st, timeout_path, timeout_raw, 1, 60) or 5.0
        retries_raw, _ = pick("retries")
        no_input_raw, no_input_path = pick("no_input")
        no_match_raw, no_match_path = pick("no_match")
        fallback_raw, fallback_path = pick("fallback")
        return Retry(
            timeout=int(round(timeout)),
            retries=int(retries_raw) if isinstance(retries_raw, int) else 2,
            no_input=self.prompt(st, no_input_path, no_input_raw, voice, language),
            no_match=self.prompt(st, no_match_path, no_match_raw, voice, language),
            fallback=self.target(st, fallback_path, node, fallback_raw),
        )

    def build_node(self, st: _FileState, name: str, raw: Any, language: str, voice: str | None,
                   defaults: dict[str, Any], services: dict[str, Any]) -> Node | None:
        path: Path = ("nodes", name)
        if not isinstance(raw, dict):
            return None
        kinds = [k for k in raw if k in fs.NODE_KINDS]
        others = [k for k in raw if k not in fs.NODE_KINDS]
        ok = True
        for key in others:
            if key not in fs.NODE_COMMON:
                hint = suggest(key, [*fs.NODE_KINDS, *fs.NODE_COMMON])
                self.error(st, path + (key,), f"unknown key '{key}'{hint}")
                self.harvest_unknown(st, raw[key])
                ok = False
        if not kinds:
            self.error(st, path, "a node needs exactly one kind: " + ", ".join(fs.NODE_KINDS))
            self.harvest_variables(st, raw)
            return None
        if len(kinds) > 1:
            self.error(st, path + (kinds[1],), f"a node has one kind, this one has {', '.join(kinds)}")
            self.harvest_variables(st, raw)
            if isinstance(raw.get("subflow"), str):
                st.subflows.append((path + ("subflow",), raw["subflow"]))
            return None
        kind = NodeKind(kinds[0])
        body = raw[kind.value]
        if not self.schema(st, fs.NODE_KINDS[kind.value], body, path + (kind.value,)):
            ok = False
            # Check the rest of the body anyway: without the parts that are wrong (already reported), if what
            # remains is well-formed; else only read its targets and the variables it defines.
            pruned, body_ok, unknown = _prune(fs.NODE_KINDS[kind.value], body)
            for value in unknown:
                self.harvest_unknown(st, value)
            if body_ok:
                body = pruned
            else:
                self.harvest_targets(st, path + (kind.value,), name, raw[kind.value])
                self.harvest_variables(st, raw)
                body = _BROKEN
        nxt = raw.get("next")
        if nxt is not None and not isinstance(nxt, str):
            self.error(st, path + ("next",), "expected a node name")
            ok = False
        if "next" in raw and kind.value not in fs.KINDS_WITH_NEXT:
            self.error(st, path + ("next",), f"'next' has no meaning on a {kind.value} node"
                       + (" (use the options' goto)" if kind is NodeKind.MENU else ""))
            ok = False
        if kind.value in fs.KINDS_NEEDING_NEXT and nxt is None:
            self.error(st, path, f"dead end: a {kind.value} node needs 'next' (where the call goes afterwards)")
            ok = False
        if isinstance(nxt, str) and kind.value in fs.KINDS_WITH_NEXT:
            self.target(st, path + ("next",), name, nxt)
        if body is _BROKEN:
            return None
        kpath = path + (kind.value,)
        built = self.build_body(st, kind, kpath, name, body, language, voice, defaults, services)
        if not ok:
            return None
        return Node(name=name, kind=kind, body=built, next=nxt, line=st.smap.line(path))

    def harvest_targets(self, st: _FileState, path: Path, name: str, raw: Any) -> None:
        """The targets of a malformed node body, where they can be read (reported if unknown)."""
        if isinstance(raw, dict):
            for key, value in raw.items():
                if key in _TARGET_KEYS and isinstance(value, str):
                    self.target(st, path + (key,), name, value)
                elif key != "when":
                    self.harvest_targets(st, path + (key,), name, value)
        elif isinstance(raw, list):
            for i, value in enumerate(raw):
                self.harvest_targets(st, path + (i,), name, value)

    def harvest_unknown(self, st: _FileState, value: Any) -> None:
        """The value of an unknown key may be that of a misspelt 'var', 'as', 'set' or 'save': the names it holds
        count as defined, so that a typo is reported once, not again at every use of the variable."""
        if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            st.defined.add(value)
        elif isinstance(value, dict):
            st.defined |= {k for k in value if isinstance(k, str)}
        self.harvest_variables(st, value)

    def harvest_variables(self, st: _FileState, raw: Any) -> None:
        """The variables a node that could not be built would define, so that their uses elsewhere are not
        reported as undefined."""
        if isinstance(raw, dict):
            for key, value in raw.items():
                if key in ("var", "as") and isinstance(value, str):
                    st.defined.add(value)
                elif key in ("set", "save") and isinstance(value, dict):
                    st.defined |= {k for k in value if isinstance(k, str)}
                if key != "when":
                    self.harvest_variables(st, value)
        elif isinstance(raw, list):
            for value in raw:
                self.harvest_variables(st, value)

    def build_body(self, st: _FileState, kind: NodeKind, path: Path, name: str, body: Any, language: str,
                   voice: str | None, defaults: dict[str, Any], services: dict[str, Any]) -> Any:
        if kind is NodeKind.SAY:
            return self.prompt(st, path, body, voice, language)
        if kind is NodeKind.HANGUP:
            return () if body is None or isinstance(body, bool) else self.prompt(st, path, body, voice, language)
        if kind is NodeKind.RETURN:
            return None
        if kind is NodeKind.SUBFLOW:
            st.subflows.append((path, body))
            return body
        if kind is NodeKind.SET:
            return self.assignments(st, path, body)
        if kind is NodeKind.MENU:
            return self.menu(st, path, name, body, language, voice, defaults)
        if kind is NodeKind.COLLECT:
            return self.collect(st, path, name, body, language, voice, defaults)
        if kind is NodeKind.LISTEN:
            return self.listen(st, path, name, body, language, voice, defaults)
        if kind is NodeKind.LOOKUP:
            return self.lookup(st, path, name, body, services)
        if kind is NodeKind.BRANCH:
            cases = []
            for i, case in enumerate(body["cases"]):
                cond = self.condition(st, path + ("cases", i, "when"), case["when"])
                cases.append((cond, self.target(st, path + ("cases", i, "goto"), name, case["goto"])))
            return Branch(tuple(cases), self.target(st, path + ("else",), name, body["else"]))
        if kind is NodeKind.HOURS:
            st.schedules_used.append((path + ("schedule",), body["schedule"]))
            return Hours(body["schedule"], self.target(st, path + ("open",), name, body["open"]),
                         self.target(st, path + ("closed",), name, body["closed"]),
                         self.target(st, path + ("holiday",), name, body.get("holiday")),
                         self.target(st, path + ("closure",), name, body.get("closure")))
        if kind is NodeKind.QUEUE:
            skills = body.get("skills") or {}
            if isinstance(skills, list):
                skills = {skill: 1 for skill in skills}
            timeout = None
            if "timeout" in body:
                seconds = self.duration(st, path + ("timeout",), body["timeout"], 10, 4 * 3600)
                timeout = int(seconds) if seconds else None
            st.queues_used.append((path, body["name"], dict(skills)))
            return QueueSpec(body["name"], dict(skills), int(body.get("priority", 0)), timeout,
                             self.prompt(st, path + ("prompt",), body.get("prompt"), voice, language))
        if kind is NodeKind.TRANSFER:
            to = str(body["to"])
            if not (to.startswith(("sip:", "client:", "{{")) or re.fullmatch(r"\+?[0-9 ()\-.]{3,20}", to)):
                self.error(st, path + ("to",), f"'{to}' is not a phone number (+15551234567), sip: address "
                                               "or client: identity")
            timeout = self.duration(st, path + ("timeout",), body.get("timeout", 30), 5, 600) or 30
            return Transfer(self.template(st, path + ("to",), to), body.get("caller_id"), int(timeout),
                            self.prompt(st, path + ("prompt",), body.get("prompt"), voice, language),
                            self.target(st, path + ("on_failure",), name, body.get("on_failure")))
        if kind is NodeKind.VOICEMAIL:
            body = body or {}
            seconds = self.duration(st, path + ("max_length",), body.get("max_length", "2m"), 5, 3600) or 120
            st.defined |= {"recording_url", "recording_duration"}
            return Voicemail(self.prompt(st, path + ("prompt",), body.get("prompt"), voice, language),
                             int(seconds), body.get("finish_key", "#"), body.get("mailbox"))
        raise AssertionError(kind)  # pragma: no cover

    def assignments(self, st: _FileState, path: Path, body: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for var, value in body.items():
            st.defined.add(var)
            values[var] = self.template(st, path + (var,), value) if isinstance(value, str) else value
        return values

    def menu(self, st: _FileState, path: Path, name: str, body: dict[str, Any], language: str,
             voice: str | None, defaults: dict[str, Any]) -> Menu:
        options = []
        keys_seen: dict[str, int] = {}
        phrases_seen: dict[str, int] = {}
        for i, opt in enumerate(body["options"]):
            opath = path + ("options", i)
            key = None if opt.get("key") is None else str(opt["key"])
            if key is not None:
                if len(key) != 1 or key not in _KEYS:
                    self.error(st, opath + ("key",), f"'{key}' is not a key: use one of 0-9, * or #")
                elif key in keys_seen:
                    self.error(st, opath + ("key",), f"key {key} is already used by options[{keys_seen[key]}]")
                else:
                    keys_seen[key] = i
            phrases = tuple(p.strip() for p in opt.get("phrases") or [])
            intent = opt.get("intent")
            if intent is not None:
                if intent in st.intents:
                    phrases += tuple(p for p in st.intents[intent] if p.lower() not in {q.lower() for q in phrases})
                else:
                    self.error(st, opath + ("intent",), self.no_intent(st, intent))
            for p in phrases:
                low = p.lower()
                if not low:
                    self.error(st, opath + ("phrases",), "empty phrase")
                elif low in phrases_seen and phrases_seen[low] != i:
                    self.error(st, opath + ("phrases",),
                               f"phrase '{p}' is already used by options[{phrases_seen[low]}]")
                phrases_seen.setdefault(low, i)
            if key is None and not phrases and intent is None:
                self.error(st, opath, "an option needs a key, phrases or an intent")
            assigned = self.assignments(st, opath + ("set",), opt.get("set") or {})
            options.append(MenuOption(key, phrases, self.target(st, opath + ("goto",), name, opt["goto"]) or "",
                                      assigned, intent))
        return Menu(self.prompt(st, path + ("prompt",), body["prompt"], voice, language), tuple(options),
                    self.retry(st, path, name, body, defaults, voice, language), self.node_speech(st, path, body))

    def collect(self, st: _FileState, path: Path, name: str, body: dict[str, Any], language: str,
                voice: str | None, defaults: dict[str, Any]) -> Collect:
        st.defined.add(body["var"])
        min_len, max_len = body.get("min_length", 1), body.get("max_length", 20)
        if min_len > max_len:
            self.error(st, path + ("min_length",), f"min_length {min_len} is greater than max_length {max_len}")
        pattern = body.get("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as e:
                self.error(st, path + ("pattern",), f"bad pattern: {e}")
        return Collect(
            prompt=self.prompt(st, path + ("prompt",), body["prompt"], voice, language),
            var=body["var"], min_length=min_len, max_length=max_len, finish_key=body.get("finish_key", "#"),
            pattern=pattern, luhn=bool(body.get("luhn")),
            confirm=self.prompt(st, path + ("confirm",), body["confirm"], voice, language)
            if "confirm" in body else None,
            invalid=self.prompt(st, path + ("invalid",), body.get("invalid"), voice, language),
            retry=self.retry(st, path, name, body, defaults, voice, language),
            speech=self.node_speech(st, path, body),
        )

    def lookup(self, st: _FileState, path: Path, name: str, body: dict[str, Any],
               services: dict[str, Any]) -> LookupSpec:
        base, headers, timeout = "", {}, 3.0
        if ("url" in body) == ("service" in body):
            self.error(st, path, "a lookup needs either 'url', or 'service' with 'path'")
        if "service" in body:
            svc = body["service"]
            spec = services.get(svc)
            if spec is None:
                self.error(st, path + ("service",), f"no service '{svc}' in this flow's services"
                                                    f"{suggest(svc, services)}")
            elif isinstance(spec, dict):
                base = self.service_urls.get(svc.lower(), str(spec.get("url", ""))).rstrip("/")
                headers = dict(spec.get("headers") or {})
                timeout = parse_duration(spec.get("timeout", 3)) or 3.0
            if "path" not in body:
                self.error(st, path, "a lookup with 'service' needs 'path'")
        elif "path" in body:
            self.error(st, path + ("path",), "'path' goes with 'service'; with 'url' give the whole address")
        url_tpl = self.template(st, path + ("url" if "url" in body else "path",), body.get("url", body.get("path", "")))
        if "timeout" in body:
            timeout = self.duration(st, path + ("timeout",), body["timeout"], 0.1, 10) or timeout
        if "as" in body:
            st.defined.add(body["as"])
        st.defined |= set((body.get("save") or {}).keys())
        st.defined.add("lookup_status")
        query = {k: self.template(st, path + ("query", k), v) for k, v in (body.get("query") or {}).items()}
        json_body = ({k: self.template(st, path + ("body", k), v) for k, v in body["body"].items()}
                     if "body" in body else None)
        return LookupSpec(
            method=body.get("method", "POST" if json_body is not None else "GET"), base_url=base, path=url_tpl,
            query=query, body=json_body, headers=headers, timeout=timeout, store_as=body.get("as"),
            save=dict(body.get("save") or {}),
            on_failure=self.target(st, path + ("on_failure",), name, body["on_failure"]) or "",
            on_not_found=self.target(st, path + ("on_not_found",), name, body.get("on_not_found")),
        )

    def condition(self, st: _FileState, path: Path, raw: Any) -> Condition:
        problems: list[tuple[tuple[Any, ...], str]] = []
        cond = parse_condition(raw, path, problems)
        for ppath, message in problems:
            self.error(st, ppath, message)
        if cond is None:
            from ivr.flowlang.conditions import AllOf
            return AllOf(())
        for var in cond.variables():
            st.used.append((path, var))
        for sched in cond.schedules():
            st.schedules_used.append((path, sched))
        if _has_clock(raw):
            st.time_conditions.append(path)
        return cond

    # -- graph ---------------------------------------------------------------------------------------------------
    def check_graph(self, st: _FileState, start: str | None, names: list[str]) -> None:
        """Unreachable nodes (when the start is known) and loops with no exit, on the edges that are known: those
        of the nodes that were built, and those read from the YAML of the nodes that were not."""
        edges: dict[str, list[str]] = {n: [] for n in names}
        open_ended: set[str] = set()  # nodes with a target naming no node (reported): where they lead is unknown
        for _path, source, target in st.targets:
            if source in edges and target in edges:
                edges[source].append(target)
            elif source in edges:
                open_ended.add(source)
                # the nodes it may have meant (as in did-you-mean) count as reached
                edges[source] += difflib.get_close_matches(target, names, n=3, cutoff=0.6)
        for source, target in st.loose_edges:
            edges[source].append(target)
        seen = set(names)
        if start is not None:
            seen = {start}
            todo = [start]
            while todo:
                for nxt in edges[todo.pop()]:
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            for name in names:
                if name not in seen:
                    self.error(st, ("nodes", name), f"unreachable: no path from start '{start}' leads here")
        # A node that failed to build, or that names a missing node, counts as an exit: its own errors are
        # reported, not a phantom loop.
        exits = {n for n in names if n not in st.nodes or n in open_ended or st.nodes[n].kind in _EXIT_KINDS
                 or (st.nodes[n].kind is NodeKind.SUBFLOW and st.nodes[n].next is None)}
        line = lambda n: st.smap.line(("nodes", n))  # noqa: E731
        for component in _strongly_connected(edges):
            looped = len(component) > 1 or any(n in edges[n] for n in component)
            leaves = any(t not in component for n in component for t in edges[n])
            if looped and not leaves and not component & exits and component & seen:
                first = min(component, key=line)
                members = ", ".join(sorted(component, key=line))
                self.error(st, ("nodes", first), f"loop with no exit: {members} lead only to each other and never "
                                                 "hang up, transfer, queue or return")

    # -- across files --------------------------------------------------------------------------------------------
    def check_cross_file(self) -> None:
        names = {st.name: st for st in self.files.values()}

        def unread_mentions(word: str) -> bool:
            """Whether a flow file that could not be read (its error is reported) mentions ``word``: it may define
            that flow, schedule or variable, which is then not reported missing elsewhere."""
            return any(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", t) for t in self.unread.values())

        for st in self.files.values():
            for path, target in st.subflows:
                if target not in names and target not in self.unread:
                    self.error(st, path, f"no flow '{target}'{suggest(target, names)}")
            for path, sched in st.schedules_used:
                if sched not in self.schedule_origin and not unread_mentions(sched):
                    self.error(st, path, f"no schedule '{sched}'{suggest(sched, self.schedule_origin)}")
        if self.routing is not None:
            for st in self.files.values():
                for path, queue, skills in st.queues_used:
                    if queue not in self.routing.queues:
                        self.error(st, path + ("name",), f"no queue '{queue}' in {self.queues_file}"
                                                         f"{suggest(queue, self.routing.queues)}")
                    for skill in skills:
                        if skill not in self.routing.skills:
                            self.error(st, path + ("skills", skill), f"unknown skill '{skill}'"
                                       f"{suggest(skill, self.routing.skills)}; declare it in {self.queues_file}")
        # Variables are shared by a call across the flows it enters, so a flow may use what the flows it calls or
        # is called from define: decide definedness over each group of flows linked by subflow calls.
        # (a call to a missing flow links to the flows it may mean, as in did-you-mean)
        groups = _subflow_groups({st.name: {m for _p, t in st.subflows
                                            for m in ([t] if t in names else difflib.get_close_matches(t, names))}
                                  for st in names.values()})
        linked_to_unread = {st.name for st in names.values()
                            if any(t in self.unread for _p, t in st.subflows) or unread_mentions(st.name)}
        unread_words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(self.unread.values())))
        for st in self.files.values():
            defined = set(BUILTIN_VARIABLES)
            for member in groups.get(st.name, {st.name}):
                defined |= names[member].defined
                if member in linked_to_unread:
                    defined |= unread_words
            for path, var in st.used:
                top = var.split(".")[0]
                if top not in defined:
                    self.error(st, path, f"undefined variable '{top}'{suggest(top, defined)}")

    def check_numbers(self) -> tuple[dict[str, str], str | None]:
        numbers: dict[str, str] = {}
        defaults = []
        for st in self.files.values():
            listed = st.raw.get("numbers")
            for i, number in enumerate(listed if isinstance(listed, list) else []):
                if not isinstance(number, str):
                    continue
                key = normalize_number(number)
                if len(key.lstrip("+")) < 3 and not key.startswith(("sip:", "client:")):
                    self.error(st, ("numbers", i), f"'{number}' is not a phone number")
                elif key in numbers and numbers[key] != st.name:
                    self.error(st, ("numbers", i), f"{number} already goes to flow '{numbers[key]}'")
                else:
                    numbers[key] = st.name
            if st.raw.get("default") is True:
                defaults.append(st)
        if len(defaults) > 1:
            for st in defaults[1:]:
                self.error(st, ("default",), f"flow '{defaults[0].name}' is already the default flow")
        if defaults:
            return numbers, defaults[0].name
        names = [st.name for st in self.files.values()]
        if "main" in names:
            return numbers, "main"
        if len(names) == 1:
            return numbers, names[0]
        return numbers, None


_EXIT_KINDS = {NodeKind.HANGUP, NodeKind.RETURN, NodeKind.QUEUE, NodeKind.TRANSFER, NodeKind.VOICEMAIL}
#: Keys whose value names a node, in node bodies (``next`` sits beside the body).
_TARGET_KEYS = frozenset({"goto", "else", "fallback", "open", "closed", "holiday", "closure", "on_failure",
                          "on_not_found"})
#: Stands for a node body too malformed to build.
_BROKEN = object()


def _prune(schema: dict[str, Any], instance: Any) -> tuple[Any, bool, list[Any]]:
    """A copy of ``instance`` without its unknown keys (which nothing reads), whether the rest conforms, and the
    values of the unknown keys.

    Values of the wrong type are not left out: the checks of the body would then report what is missing instead.
    """
    validator = _VALIDATORS.get(id(schema)) or Draft202012Validator(schema)
    pruned = copy.deepcopy(instance)
    removed = []
    for err in validator.iter_errors(instance):
        if err.validator == "additionalProperties" and err.validator_value is False:
            parent = pruned
            for part in err.absolute_path:
                parent = parent[part]
            for key in [k for k in err.instance if k not in err.schema.get("properties", {})]:
                removed.append(parent.pop(key, None))
    return pruned, validator.is_valid(pruned), removed


def _raw_targets(raw: Any, defaults: dict[str, Any]) -> list[str]:
    """Every word in a node that could not be built (it may name a node, even inside text a mistake made of a
    part of the node), with the flow's default fallback when the node may be a menu or a collect: read
    generously, so that no node is wrongly called unreachable."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.extend(re.findall(r"[\w\-]+", value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(raw)
    kinds = {k for k in raw if k in fs.NODE_KINDS} if isinstance(raw, dict) else set()
    if isinstance(defaults.get("fallback"), str) and (not kinds or kinds & {"menu", "collect"}):
        found.append(defaults["fallback"])
    return found


def _tts(raw: Mapping[str, Any]) -> Tts:
    """The flow's ``tts`` (the schema reports a value that is neither ``twilio`` nor ``local``)."""
    return Tts.LOCAL if raw.get("tts") == Tts.LOCAL.value else Tts.TWILIO


def _has_clock(raw: Any) -> bool:
    if isinstance(raw, dict):
        return bool(set(raw) & {"time", "day", "date"}) or any(_has_clock(v) for v in raw.values())
    if isinstance(raw, list):
        return any(_has_clock(v) for v in raw)
    return False


def _strongly_connected(edges: dict[str, list[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (flows can be large)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[set[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                result.append(component)
    return result


def _subflow_groups(calls: dict[str, set[str]]) -> dict[str, set[str]]:
    """Connected components of the (undirected) subflow call graph."""
    parent = {name: name for name in calls}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for caller, callees in calls.items():
        for callee in callees:
            parent[find(caller)] = find(callee)
    groups: dict[str, set[str]] = {}
    for name in calls:
        groups.setdefault(find(name), set()).add(name)
    return {name: groups[find(name)] for name in calls}


def _split_path(rel: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", rel or ""):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(parts)


def _fmt_seconds(seconds: float) -> str:
    if seconds < 1:
        return f"{int(seconds * 1000)}ms"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


_TYPE_NAMES = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
               "object": "a mapping", "array": "a list", "null": "nothing"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"the text '{value}'"


def _schema_message(err: Any) -> str:
    schema = err.schema
    if err.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        unknown = [k for k in err.instance if k not in allowed]
        return "; ".join(f"unknown key '{k}'{suggest(k, allowed)}" for k in unknown) or err.message
    if err.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        return f"missing required key '{missing[0]}'" if missing else err.message
    if err.validator == "type":
        types = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        return f"expected {wanted}, got {_describe(err.instance)}"
    if err.validator == "anyOf":
        if schema is fs.PROMPT or schema is fs.PROMPT_ITEM:
            return f"not a prompt: {fs.PROMPT_HELP}"
        return "expected a list of skill names or a mapping of skill: level (1-10)"
    if err.validator == "enum":
        choices = [str(c) for c in err.validator_value]
        return (f"'{err.instance}' is not one of {', '.join(repr(c) for c in choices)}"
                f"{suggest(str(err.instance), choices)}")
    if err.validator == "pattern":
        return f"'{err.instance}' is not a valid name (letters, digits, '_' and '-', starting with a letter)"
    if err.validator == "minItems":
        return "must not be empty"
    if err.validator == "minProperties":
        return "must not be empty"
    return err.message
