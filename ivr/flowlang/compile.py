"""Compiling a flow bundle: ``{filename: yaml text}`` to a validated :class:`~ivr.flowlang.model.Bundle`, or FlowError.

``load_bundle(sources)`` is the only way to get a bundle. Each file is parsed (:mod:`ivr.flowlang.yamlsource`) and its
structure checked against :mod:`ivr.flowlang.schema` (:mod:`ivr.flowlang.validate`); then each flow is built in file
order: its nodes (:mod:`ivr.flowlang.nodes`, values read by :mod:`ivr.flowlang.values`, speech parts by
:mod:`ivr.flowlang.speechcheck`) and the shape of its graph (:mod:`ivr.flowlang.graph`); then come the passes over the
whole bundle: names across files (:mod:`ivr.flowlang.references`) and numbers (:mod:`ivr.flowlang.numbers`). Every
problem goes to one :class:`~ivr.flowlang.parsed.Diagnostics`, in the order found, located as
``file:line: path: message``.
"""

from __future__ import annotations

import re
from pathlib import Path as FsPath
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ivr.errors import Diagnostic, FlowError, suggest
from ivr.flowlang import schema as fs
from ivr.flowlang.graph import check_graph, check_targets
from ivr.flowlang.model import Bundle, Flow
from ivr.flowlang.nodes import build_node, raw_targets
from ivr.flowlang.numbers import check_numbers
from ivr.flowlang.parsed import Diagnostics, FileState
from ivr.flowlang.references import check_references
from ivr.flowlang.schedule import Schedule, ScheduleError, parse_schedule
from ivr.flowlang.sources import QUEUES_FILE_NAMES, flow_name
from ivr.flowlang.speechcheck import flow_speech, intents
from ivr.flowlang.validate import conforms
from ivr.flowlang.values import duration, tts_of
from ivr.flowlang.yamlsource import YamlSyntaxError, load
from routing.config import RoutingConfig, parse_queues
from routing.errors import QueueConfigError


def load_bundle(sources: Mapping[str, str], *, service_urls: Mapping[str, str] | None = None) -> Bundle:
    """Validate ``{filename: yaml text}`` and build the bundle, or raise :class:`FlowError` with every problem.

    ``service_urls`` overrides the base URL of lookup services by name (``IVR_SERVICE_<NAME>_URL``).
    """
    return _BundleCompiler(dict(sources), dict(service_urls or {})).run()


class _BundleCompiler:
    """One compilation: what is known of the bundle so far, file by file."""

    def __init__(self, sources: dict[str, str], service_urls: dict[str, str]):
        self.sources = sources
        self.service_urls = service_urls
        self.sink = Diagnostics()
        self.files: dict[str, FileState] = {}
        self.schedules: dict[str, Schedule] = {}
        self.schedule_origin: dict[str, str] = {}
        self.routing: RoutingConfig | None = None
        self.queues_file: str | None = None
        self.unread: dict[str, str] = {}  # flow name -> text, for flow files whose nodes could not be read

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
        files = list(self.files.values())
        check_references(self.sink, files, self.unread, self.schedule_origin, self.routing, self.queues_file)
        numbers, default = check_numbers(self.sink, files)
        if self.sink:
            raise FlowError(list(dict.fromkeys(self.sink.found)))  # a shared default is reported once
        return Bundle(flows=flows, schedules=dict(self.schedules), numbers=numbers, default_flow=default,
                      sources={flow_name(f): t for f, t in self.sources.items()}, routing=self.routing)

    def load_queues(self, file: str, text: str) -> None:
        """The routing configuration: parsed by the routing package, located here with line numbers."""
        if self.queues_file is not None:
            self.sink.add(Diagnostic(file, 1, "", f"{self.queues_file} already configures the queues"))
            return
        self.queues_file = file
        try:
            raw, smap = load(text, file)
        except YamlSyntaxError as e:
            self.sink.add(e.diagnostic)
            return
        try:
            self.routing = parse_queues(raw)
        except QueueConfigError as e:
            for rel, message in e.problems:
                self.sink.error(smap, _split_path(rel), message)

    def load_file(self, file: str, text: str) -> None:
        try:
            raw, smap = load(text, file)
        except YamlSyntaxError as e:
            self.sink.add(e.diagnostic)
            self.unread[flow_name(file)] = text
            return
        name = flow_name(file)
        if not isinstance(raw, dict):
            self.sink.add(Diagnostic(file, 1, "", "a flow file is a mapping with at least 'nodes'"))
            self.unread[name] = text
            return
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
            self.sink.add(Diagnostic(file, 1, "", f"'{name}' is not a valid flow name: rename the file "
                                                  "to letters, digits, '_' and '-'"))
            return
        if name in {s.name for s in self.files.values()}:
            self.sink.add(Diagnostic(file, 1, "", f"another file already defines flow '{name}'"))
            return
        st = FileState(file, name, smap, raw)
        conforms(self.sink, st, fs.FLOW, raw, ())
        self.files[file] = st

    def collect_schedules(self, st: FileState) -> None:
        schedules = st.raw.get("schedules")
        for sched_name, sched_raw in (schedules if isinstance(schedules, dict) else {}).items():
            if not isinstance(sched_raw, dict):
                continue
            if sched_name in self.schedules or sched_name in self.schedule_origin:
                self.sink.error(st, ("schedules", sched_name),
                                f"schedule '{sched_name}' is already defined in {self.schedule_origin[sched_name]}")
                continue
            self.schedule_origin[sched_name] = st.file
            try:
                self.schedules[sched_name] = parse_schedule(sched_raw)
            except ScheduleError as e:
                for rel, message in e.problems:
                    self.sink.error(st, ("schedules", sched_name, *_split_path(rel)), message)

    def build_flow(self, st: FileState) -> Flow | None:
        """One flow, with its own checks (the graph's included); None when it has problems (or no nodes)."""
        sink = self.sink
        raw = st.raw
        nodes_raw = raw.get("nodes")
        if not isinstance(nodes_raw, dict) or not nodes_raw:
            self.unread[st.name] = self.sources.get(st.file, "")  # what it defines is unknown (as if unreadable)
            return None
        language = str(raw.get("language") or "en-US")
        voice = raw.get("voice")
        timezone = str(raw.get("timezone") or "UTC")
        if raw.get("timezone") is not None:
            _check_timezone(sink, st, timezone)
        # (malformed top-level values are reported by the schema: read what can be read, check the rest)
        inputs, variables = raw.get("inputs"), raw.get("variables")
        st.defined |= {v for v in inputs if isinstance(v, str)} if isinstance(inputs, list) else set()
        st.defined |= set(variables) if isinstance(variables, dict) else set()
        defaults = raw.get("defaults") if isinstance(raw.get("defaults"), dict) else {}
        services = raw.get("services") if isinstance(raw.get("services"), dict) else {}
        for svc, spec in services.items():
            if isinstance(spec, dict) and "timeout" in spec:
                duration(sink, st, ("services", svc, "timeout"), spec["timeout"], 0.1, 30)
        st.intents = intents(sink, st, raw.get("intents"))
        st.speech = flow_speech(sink, st, raw.get("speech"), language, voice)
        for name, node_raw in nodes_raw.items():
            node = build_node(sink, st, name, node_raw, language, voice, defaults, services, self.service_urls)
            if node is not None:
                st.nodes[name] = node
            else:
                st.loose_edges += [(name, t) for t in raw_targets(node_raw, defaults) if t in nodes_raw]
        start = raw.get("start", next(iter(nodes_raw)))
        check_targets(sink, st, start, nodes_raw)
        if st.time_conditions and raw.get("timezone") is None:
            for path in st.time_conditions:
                sink.error(st, path, "time, day and date conditions need the flow's 'timezone' "
                                     "(for example timezone: America/New_York)")
        known_start = start if isinstance(start, str) and start in nodes_raw else None
        check_graph(sink, st, known_start, list(nodes_raw))
        if known_start is None or len(st.nodes) != len(nodes_raw) or sink.about(st.file):
            return None  # the bundle will not be built: no flow needed
        return Flow(name=st.name, file=st.file, language=language, voice=voice, timezone=timezone, start=start,
                    nodes=dict(st.nodes), variables=dict(raw.get("variables") or {}),
                    inputs=tuple(raw.get("inputs") or ()), numbers=tuple(raw.get("numbers") or ()),
                    default=bool(raw.get("default")), speech=st.speech, speech_line=st.smap.line(("speech",)),
                    intents=dict(st.intents), tts=tts_of(raw))


def _check_timezone(sink: Diagnostics, st: FileState, tz: str) -> None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        sink.error(st, ("timezone",), f"unknown timezone '{tz}'{suggest(tz, available_timezones())}")


def _split_path(rel: str) -> tuple[str | int, ...]:
    """``a.b[2].c`` (as the routing and schedule parsers name a place) as a path: ``("a", "b", 2, "c")``."""
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", rel or ""):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return tuple(parts)
