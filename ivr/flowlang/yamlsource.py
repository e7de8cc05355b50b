"""Safe YAML loading that remembers where every value came from.

Flows are data: only YAML's plain types are built (mappings, sequences, strings, decimal ints, floats, true/false,
null). YAML 1.1 surprises that bite hand-written call flows are switched off: ``yes``/``no``/``on``/``off`` stay
strings, ``09:30`` is not the sexagesimal number 570, and dates stay strings. Tags that would name Python code
(``!!python/object``...) are rejected. Every value's line is recorded under its path, for precise diagnostics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ivr.errors import Diagnostic

Path = tuple[str | int, ...]


class _FlowResolver(yaml.resolver.BaseResolver):
    """Implicit typing limited to what a flow needs."""


_FlowResolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_FlowResolver.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
_FlowResolver.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)$"), list("-+0123456789."))
_FlowResolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


class _FlowLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                  yaml.constructor.SafeConstructor, _FlowResolver):
    def __init__(self, stream: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        _FlowResolver.__init__(self)


_PLAIN_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
}


@dataclass
class SourceMap:
    """Line numbers (1-based) of every value and mapping key, by path."""

    file: str
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int:
        """Line of ``path``, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def diag(self, path: Path, message: str) -> Diagnostic:
        return Diagnostic(self.file, self.line(path), format_path(path), message)


def format_path(path: Path) -> str:
    """``('nodes', 'menu', 'options', 2, 'goto')`` → ``nodes.menu.options[2].goto``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class YamlSyntaxError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic
        super().__init__(str(diagnostic))


MAX_SOURCE_CHARS = 1_000_000
MAX_VALUES = 200_000


def load(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse ``text`` into plain Python data plus a :class:`SourceMap`; raise :class:`YamlSyntaxError` located at
    the offending line for syntax errors, duplicate keys and non-plain tags."""
    smap = SourceMap(file)
    if len(text) > MAX_SOURCE_CHARS:
        raise YamlSyntaxError(Diagnostic(file, 1, "", f"file is larger than {MAX_SOURCE_CHARS} characters"))
    loader = _FlowLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        line, message = _syntax_error(e, text)
        raise YamlSyntaxError(Diagnostic(file, line, "", f"YAML syntax error: {message}")) from e
    except yaml.YAMLError as e:
        raise YamlSyntaxError(Diagnostic(file, 1, "", f"YAML error: {e}")) from e
    finally:
        loader.dispose()
    if node is None:
        return None, smap
    return _build(node, (), smap, loader, [0]), smap


#: Contexts naming a construct PyYAML saw opened (a quote, ``[`` or ``{``): when the problem only shows up on a
#: later line (often the end of the file), the mistake is where the construct was opened.
_OPENED = ("while scanning a quoted scalar", "while parsing a flow sequence", "while parsing a flow mapping")


def _syntax_error(e: yaml.MarkedYAMLError, text: str) -> tuple[int, str]:
    """The line (1-based) where a syntax error most likely is, and its message, mentioning the other line."""
    problem, context = e.problem or "invalid YAML", e.context
    # the end of the stream is one line past a final newline: call it the last line
    pline = min(e.problem_mark.line + 1, max(1, len(text.splitlines()))) if e.problem_mark else None
    cline = e.context_mark.line + 1 if e.context_mark else None
    if "'\\t'" in problem:
        problem += " (indent with spaces, not tabs)"
    elif isinstance(e, yaml.parser.ParserError) and e.problem_mark is not None:
        # A quote closed lines later than meant (an unbalanced quote inside) leaves the parser confused on the
        # line where it finally closes: point at the line where the quoted text began.
        opened = _quote_ending_at(text, e.problem_mark)
        if opened is not None and opened < pline:
            return opened, f"quoted text runs from line {opened} to line {pline}: {problem} (line {pline})"
        if opened is not None:
            problem += " (text follows a closing quote; inside '...' write a ' as '')"
        elif "expected <block end>" in problem:
            problem += " (check the indentation)"
    if context and cline is not None and pline is not None and pline > cline and context.startswith(_OPENED):
        return cline, f"{context}: {problem} (line {pline})"
    if context and cline is not None and cline != pline:
        context = f"{context} (line {cline})"
    message = f"{context}: {problem}" if context else problem
    return pline or cline or 1, message


def _quote_ending_at(text: str, mark: yaml.Mark) -> int | None:
    """Start line (1-based) of the quoted scalar just before ``mark``, when it ends on ``mark``'s line (the tokens
    up to ``mark`` scan: the parser, not the scanner, failed)."""
    last = None
    try:
        for token in yaml.scan(text, Loader=_FlowLoader):
            if token.start_mark.index >= mark.index:
                break
            last = token
    except yaml.YAMLError:
        return None
    if (isinstance(last, yaml.ScalarToken) and last.style in ("'", '"')
            and last.end_mark.line == mark.line):
        return last.start_mark.line + 1
    return None


def _build(node: yaml.Node, path: Path, smap: SourceMap, loader: _FlowLoader, count: list[int]) -> Any:
    # Aliases are expanded: cap the number of values so an alias bomb cannot exhaust memory.
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise YamlSyntaxError(Diagnostic(smap.file, node.start_mark.line + 1, format_path(path),
                                         f"more than {MAX_VALUES} values (alias expansion?)"))
    smap.lines.setdefault(path, node.start_mark.line + 1)
    line = node.start_mark.line + 1
    if node.tag not in _PLAIN_TAGS:
        raise YamlSyntaxError(Diagnostic(
            smap.file, line, format_path(path),
            f"tag {node.tag!r} is not allowed: flows are plain data and cannot name code"))
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlSyntaxError(Diagnostic(smap.file, key_node.start_mark.line + 1, format_path(path),
                                                 "merge keys ('<<') are not supported"))
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlSyntaxError(Diagnostic(smap.file, key_node.start_mark.line + 1, format_path(path),
                                                 "mapping keys must be plain words"))
            key = key_node.value if key_node.value != "" else "null"
            if key in result:
                raise YamlSyntaxError(Diagnostic(smap.file, key_node.start_mark.line + 1,
                                                 format_path(path + (key,)), f"duplicate key {key!r}"))
            smap.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, path + (key,), smap, loader, count)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), smap, loader, count) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
