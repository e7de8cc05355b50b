"""Names one flow uses and the bundle defines: subflows, schedules, queues and skills, variables shared across flows."""

from __future__ import annotations

import difflib
import re
from typing import Mapping, Sequence

from ivr.errors import suggest
from ivr.flowlang.graph import subflow_groups
from ivr.flowlang.parsed import Diagnostics, FileState
from routing.config import RoutingConfig

#: Variables every call has without defining them.
BUILTIN_VARIABLES = frozenset({
    "caller", "called", "call_sid", "flow", "language", "today", "now_time", "last_input", "hours",
    "recording_url", "recording_duration", "transfer_status", "queue_result", "lookup_status", "heard",
})


def check_references(sink: Diagnostics, files: Sequence[FileState], unread: Mapping[str, str],
                     schedule_origin: Mapping[str, str], routing: RoutingConfig | None,
                     queues_file: str | None) -> None:
    """What each flow names that the bundle defines elsewhere: flows it calls, schedules, queues and skills (when
    the queues are configured), and variables. ``unread`` holds the text of the flow files that could not be read,
    ``schedule_origin`` the file defining each schedule."""
    names = {st.name: st for st in files}

    def unread_mentions(word: str) -> bool:
        """Whether a flow file that could not be read (its error is reported) mentions ``word``: it may define
        that flow, schedule or variable, which is then not reported missing elsewhere."""
        return any(re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", t) for t in unread.values())

    for st in files:
        for path, target in st.subflows:
            if target not in names and target not in unread:
                sink.error(st, path, f"no flow '{target}'{suggest(target, names)}")
        for path, sched in st.schedules_used:
            if sched not in schedule_origin and not unread_mentions(sched):
                sink.error(st, path, f"no schedule '{sched}'{suggest(sched, schedule_origin)}")
    if routing is not None:
        for st in files:
            for path, queue, skills in st.queues_used:
                if queue not in routing.queues:
                    sink.error(st, path + ("name",), f"no queue '{queue}' in {queues_file}"
                                                     f"{suggest(queue, routing.queues)}")
                for skill in skills:
                    if skill not in routing.skills:
                        sink.error(st, path + ("skills", skill), f"unknown skill '{skill}'"
                                   f"{suggest(skill, routing.skills)}; declare it in {queues_file}")
    # Variables are shared by a call across the flows it enters, so a flow may use what the flows it calls or
    # is called from define: decide definedness over each group of flows linked by subflow calls.
    # (a call to a missing flow links to the flows it may mean, as in did-you-mean)
    groups = subflow_groups({st.name: {m for _p, t in st.subflows
                                       for m in ([t] if t in names else difflib.get_close_matches(t, names))}
                             for st in names.values()})
    linked_to_unread = {st.name for st in names.values()
                        if any(t in unread for _p, t in st.subflows) or unread_mentions(st.name)}
    unread_words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(unread.values())))
    for st in files:
        defined = set(BUILTIN_VARIABLES)
        for member in groups.get(st.name, {st.name}):
            defined |= names[member].defined
            if member in linked_to_unread:
                defined |= unread_words
        for path, var in st.used:
            top = var.split(".")[0]
            if top not in defined:
                sink.error(st, path, f"undefined variable '{top}'{suggest(top, defined)}")
