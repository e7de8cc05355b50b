"""Building a flow's nodes from their YAML: each kind's body, and what a malformed node still tells of its links."""

from __future__ import annotations

import re
from typing import Any, Mapping

from ivr.errors import suggest
from ivr.flowlang import schema as fs
from ivr.flowlang.conditions import AllOf, Condition, parse_condition
from ivr.flowlang.durations import parse_duration
from ivr.flowlang.model import (Branch, Collect, Hours, LookupSpec, Menu, MenuOption, Node, NodeKind, QueueSpec,
                                Transfer, Voicemail)
from ivr.flowlang.parsed import Diagnostics, FileState
from ivr.flowlang.speechcheck import listen, no_intent, node_speech
from ivr.flowlang.validate import conforms, prune
from ivr.flowlang.values import duration, prompt, retry, target, template
from ivr.flowlang.yamlsource import Path

_KEYS = set("0123456789*#")
#: Keys whose value names a node, in node bodies (``next`` sits beside the body).
TARGET_KEYS = frozenset({"goto", "else", "fallback", "open", "closed", "holiday", "closure", "on_failure",
                         "on_not_found"})
#: Stands for a node body too malformed to build.
BROKEN = object()


def build_node(sink: Diagnostics, st: FileState, name: str, raw: Any, language: str, voice: str | None,
               defaults: dict[str, Any], services: dict[str, Any], service_urls: Mapping[str, str]) -> Node | None:
    """One node of a flow, or None when it is malformed (reported; what it still tells is recorded on ``st``)."""
    path: Path = ("nodes", name)
    if not isinstance(raw, dict):
        return None
    kinds = [k for k in raw if k in fs.NODE_KINDS]
    others = [k for k in raw if k not in fs.NODE_KINDS]
    ok = True
    for key in others:
        if key not in fs.NODE_COMMON:
            hint = suggest(key, [*fs.NODE_KINDS, *fs.NODE_COMMON])
            sink.error(st, path + (key,), f"unknown key '{key}'{hint}")
            harvest_unknown(st, raw[key])
            ok = False
    if not kinds:
        sink.error(st, path, "a node needs exactly one kind: " + ", ".join(fs.NODE_KINDS))
        harvest_variables(st, raw)
        return None
    if len(kinds) > 1:
        sink.error(st, path + (kinds[1],), f"a node has one kind, this one has {', '.join(kinds)}")
        harvest_variables(st, raw)
        if isinstance(raw.get("subflow"), str):
            st.subflows.append((path + ("subflow",), raw["subflow"]))
        return None
    kind = NodeKind(kinds[0])
    body = raw[kind.value]
    if not conforms(sink, st, fs.NODE_KINDS[kind.value], body, path + (kind.value,)):
        ok = False
        # Check the rest of the body anyway: without the parts that are wrong (already reported), if what
        # remains is well-formed; else only read its targets and the variables it defines.
        pruned, body_ok, unknown = prune(fs.NODE_KINDS[kind.value], body)
        for value in unknown:
            harvest_unknown(st, value)
        if body_ok:
            body = pruned
        else:
            harvest_targets(st, path + (kind.value,), name, raw[kind.value])
            harvest_variables(st, raw)
            body = BROKEN
    nxt = raw.get("next")
    if nxt is not None and not isinstance(nxt, str):
        sink.error(st, path + ("next",), "expected a node name")
        ok = False
    if "next" in raw and kind.value not in fs.KINDS_WITH_NEXT:
        sink.error(st, path + ("next",), f"'next' has no meaning on a {kind.value} node"
                   + (" (use the options' goto)" if kind is NodeKind.MENU else ""))
        ok = False
    if kind.value in fs.KINDS_NEEDING_NEXT and nxt is None:
        sink.error(st, path, f"dead end: a {kind.value} node needs 'next' (where the call goes afterwards)")
        ok = False
    if isinstance(nxt, str) and kind.value in fs.KINDS_WITH_NEXT:
        target(st, path + ("next",), name, nxt)
    if body is BROKEN:
        return None
    kpath = path + (kind.value,)
    built = build_body(sink, st, kind, kpath, name, body, language, voice, defaults, services, service_urls)
    if not ok:
        return None
    return Node(name=name, kind=kind, body=built, next=nxt, line=st.smap.line(path))


def harvest_targets(st: FileState, path: Path, name: str, raw: Any) -> None:
    """The targets of a malformed node body, where they can be read (reported if unknown)."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key in TARGET_KEYS and isinstance(value, str):
                target(st, path + (key,), name, value)
            elif key != "when":
                harvest_targets(st, path + (key,), name, value)
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            harvest_targets(st, path + (i,), name, value)


def harvest_unknown(st: FileState, value: Any) -> None:
    """The value of an unknown key may be that of a misspelt 'var', 'as', 'set' or 'save': the names it holds
    count as defined, so that a typo is reported once, not again at every use of the variable."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        st.defined.add(value)
    elif isinstance(value, dict):
        st.defined |= {k for k in value if isinstance(k, str)}
    harvest_variables(st, value)


def harvest_variables(st: FileState, raw: Any) -> None:
    """The variables a node that could not be built would define, so that their uses elsewhere are not
    reported as undefined."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key in ("var", "as") and isinstance(value, str):
                st.defined.add(value)
            elif key in ("set", "save") and isinstance(value, dict):
                st.defined |= {k for k in value if isinstance(k, str)}
            if key != "when":
                harvest_variables(st, value)
    elif isinstance(raw, list):
        for value in raw:
            harvest_variables(st, value)


def build_body(sink: Diagnostics, st: FileState, kind: NodeKind, path: Path, name: str, body: Any, language: str,
               voice: str | None, defaults: dict[str, Any], services: dict[str, Any],
               service_urls: Mapping[str, str]) -> Any:
    if kind is NodeKind.SAY:
        return prompt(sink, st, path, body, voice, language)
    if kind is NodeKind.HANGUP:
        return () if body is None or isinstance(body, bool) else prompt(sink, st, path, body, voice, language)
    if kind is NodeKind.RETURN:
        return None
    if kind is NodeKind.SUBFLOW:
        st.subflows.append((path, body))
        return body
    if kind is NodeKind.SET:
        return assignments(sink, st, path, body)
    if kind is NodeKind.MENU:
        return menu(sink, st, path, name, body, language, voice, defaults)
    if kind is NodeKind.COLLECT:
        return collect(sink, st, path, name, body, language, voice, defaults)
    if kind is NodeKind.LISTEN:
        return listen(sink, st, path, name, body, language, voice, defaults)
    if kind is NodeKind.LOOKUP:
        return lookup(sink, st, path, name, body, services, service_urls)
    if kind is NodeKind.BRANCH:
        cases = []
        for i, case in enumerate(body["cases"]):
            cond = condition(sink, st, path + ("cases", i, "when"), case["when"])
            cases.append((cond, target(st, path + ("cases", i, "goto"), name, case["goto"])))
        return Branch(tuple(cases), target(st, path + ("else",), name, body["else"]))
    if kind is NodeKind.HOURS:
        st.schedules_used.append((path + ("schedule",), body["schedule"]))
        return Hours(body["schedule"], target(st, path + ("open",), name, body["open"]),
                     target(st, path + ("closed",), name, body["closed"]),
                     target(st, path + ("holiday",), name, body.get("holiday")),
                     target(st, path + ("closure",), name, body.get("closure")))
    if kind is NodeKind.QUEUE:
        skills = body.get("skills") or {}
        if isinstance(skills, list):
            skills = {skill: 1 for skill in skills}
        timeout = None
        if "timeout" in body:
            seconds = duration(sink, st, path + ("timeout",), body["timeout"], 10, 4 * 3600)
            timeout = int(seconds) if seconds else None
        st.queues_used.append((path, body["name"], dict(skills)))
        return QueueSpec(body["name"], dict(skills), int(body.get("priority", 0)), timeout,
                         prompt(sink, st, path + ("prompt",), body.get("prompt"), voice, language))
    if kind is NodeKind.TRANSFER:
        to = str(body["to"])
        if not (to.startswith(("sip:", "client:", "{{")) or re.fullmatch(r"\+?[0-9 ()\-.]{3,20}", to)):
            sink.error(st, path + ("to",), f"'{to}' is not a phone number (+15551234567), sip: address "
                                           "or client: identity")
        timeout = duration(sink, st, path + ("timeout",), body.get("timeout", 30), 5, 600) or 30
        return Transfer(template(sink, st, path + ("to",), to), body.get("caller_id"), int(timeout),
                        prompt(sink, st, path + ("prompt",), body.get("prompt"), voice, language),
                        target(st, path + ("on_failure",), name, body.get("on_failure")))
    if kind is NodeKind.VOICEMAIL:
        body = body or {}
        seconds = duration(sink, st, path + ("max_length",), body.get("max_length", "2m"), 5, 3600) or 120
        st.defined |= {"recording_url", "recording_duration"}
        return Voicemail(prompt(sink, st, path + ("prompt",), body.get("prompt"), voice, language),
                         int(seconds), body.get("finish_key", "#"), body.get("mailbox"))
    raise AssertionError(kind)  # pragma: no cover


def assignments(sink: Diagnostics, st: FileState, path: Path, body: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for var, value in body.items():
        st.defined.add(var)
        values[var] = template(sink, st, path + (var,), value) if isinstance(value, str) else value
    return values


def menu(sink: Diagnostics, st: FileState, path: Path, name: str, body: dict[str, Any], language: str,
         voice: str | None, defaults: dict[str, Any]) -> Menu:
    options = []
    keys_seen: dict[str, int] = {}
    phrases_seen: dict[str, int] = {}
    for i, opt in enumerate(body["options"]):
        opath = path + ("options", i)
        key = None if opt.get("key") is None else str(opt["key"])
        if key is not None:
            if len(key) != 1 or key not in _KEYS:
                sink.error(st, opath + ("key",), f"'{key}' is not a key: use one of 0-9, * or #")
            elif key in keys_seen:
                sink.error(st, opath + ("key",), f"key {key} is already used by options[{keys_seen[key]}]")
            else:
                keys_seen[key] = i
        phrases = tuple(p.strip() for p in opt.get("phrases") or [])
        intent = opt.get("intent")
        if intent is not None:
            if intent in st.intents:
                phrases += tuple(p for p in st.intents[intent] if p.lower() not in {q.lower() for q in phrases})
            else:
                sink.error(st, opath + ("intent",), no_intent(st, intent))
        for p in phrases:
            low = p.lower()
            if not low:
                sink.error(st, opath + ("phrases",), "empty phrase")
            elif low in phrases_seen and phrases_seen[low] != i:
                sink.error(st, opath + ("phrases",),
                           f"phrase '{p}' is already used by options[{phrases_seen[low]}]")
            phrases_seen.setdefault(low, i)
        if key is None and not phrases and intent is None:
            sink.error(st, opath, "an option needs a key, phrases or an intent")
        assigned = assignments(sink, st, opath + ("set",), opt.get("set") or {})
        options.append(MenuOption(key, phrases, target(st, opath + ("goto",), name, opt["goto"]) or "",
                                  assigned, intent))
    return Menu(prompt(sink, st, path + ("prompt",), body["prompt"], voice, language), tuple(options),
                retry(sink, st, path, name, body, defaults, voice, language), node_speech(sink, st, path, body))


def collect(sink: Diagnostics, st: FileState, path: Path, name: str, body: dict[str, Any], language: str,
            voice: str | None, defaults: dict[str, Any]) -> Collect:
    st.defined.add(body["var"])
    min_len, max_len = body.get("min_length", 1), body.get("max_length", 20)
    if min_len > max_len:
        sink.error(st, path + ("min_length",), f"min_length {min_len} is greater than max_length {max_len}")
    pattern = body.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as e:
            sink.error(st, path + ("pattern",), f"bad pattern: {e}")
    return Collect(
        prompt=prompt(sink, st, path + ("prompt",), body["prompt"], voice, language),
        var=body["var"], min_length=min_len, max_length=max_len, finish_key=body.get("finish_key", "#"),
        pattern=pattern, luhn=bool(body.get("luhn")),
        confirm=prompt(sink, st, path + ("confirm",), body["confirm"], voice, language)
        if "confirm" in body else None,
        invalid=prompt(sink, st, path + ("invalid",), body.get("invalid"), voice, language),
        retry=retry(sink, st, path, name, body, defaults, voice, language),
        speech=node_speech(sink, st, path, body),
    )


def lookup(sink: Diagnostics, st: FileState, path: Path, name: str, body: dict[str, Any],
           services: dict[str, Any], service_urls: Mapping[str, str]) -> LookupSpec:
    base, headers, timeout = "", {}, 3.0
    if ("url" in body) == ("service" in body):
        sink.error(st, path, "a lookup needs either 'url', or 'service' with 'path'")
    if "service" in body:
        svc = body["service"]
        spec = services.get(svc)
        if spec is None:
            sink.error(st, path + ("service",), f"no service '{svc}' in this flow's services"
                                                f"{suggest(svc, services)}")
        elif isinstance(spec, dict):
            base = service_urls.get(svc.lower(), str(spec.get("url", ""))).rstrip("/")
            headers = dict(spec.get("headers") or {})
            timeout = parse_duration(spec.get("timeout", 3)) or 3.0
        if "path" not in body:
            sink.error(st, path, "a lookup with 'service' needs 'path'")
    elif "path" in body:
        sink.error(st, path + ("path",), "'path' goes with 'service'; with 'url' give the whole address")
    url_tpl = template(sink, st, path + ("url" if "url" in body else "path",), body.get("url", body.get("path", "")))
    if "timeout" in body:
        timeout = duration(sink, st, path + ("timeout",), body["timeout"], 0.1, 10) or timeout
    if "as" in body:
        st.defined.add(body["as"])
    st.defined |= set((body.get("save") or {}).keys())
    st.defined.add("lookup_status")
    query = {k: template(sink, st, path + ("query", k), v) for k, v in (body.get("query") or {}).items()}
    json_body = ({k: template(sink, st, path + ("body", k), v) for k, v in body["body"].items()}
                 if "body" in body else None)
    return LookupSpec(
        method=body.get("method", "POST" if json_body is not None else "GET"), base_url=base, path=url_tpl,
        query=query, body=json_body, headers=headers, timeout=timeout, store_as=body.get("as"),
        save=dict(body.get("save") or {}),
        on_failure=target(st, path + ("on_failure",), name, body["on_failure"]) or "",
        on_not_found=target(st, path + ("on_not_found",), name, body.get("on_not_found")),
    )


def condition(sink: Diagnostics, st: FileState, path: Path, raw: Any) -> Condition:
    problems: list[tuple[tuple[Any, ...], str]] = []
    cond = parse_condition(raw, path, problems)
    for ppath, message in problems:
        sink.error(st, ppath, message)
    if cond is None:
        return AllOf(())
    for var in cond.variables():
        st.used.append((path, var))
    for sched in cond.schedules():
        st.schedules_used.append((path, sched))
    if has_clock(raw):
        st.time_conditions.append(path)
    return cond


def raw_targets(raw: Any, defaults: dict[str, Any]) -> list[str]:
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


def has_clock(raw: Any) -> bool:
    if isinstance(raw, dict):
        return bool(set(raw) & {"time", "day", "date"}) or any(has_clock(v) for v in raw.values())
    if isinstance(raw, list):
        return any(has_clock(v) for v in raw)
    return False
