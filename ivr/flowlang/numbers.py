"""The numbers each flow answers and the default flow: each number goes to one flow, one flow at most is the default."""

from __future__ import annotations

from typing import Sequence

from ivr.flowlang.model import normalize_number
from ivr.flowlang.parsed import Diagnostics, FileState


def check_numbers(sink: Diagnostics, files: Sequence[FileState]) -> tuple[dict[str, str], str | None]:
    """The flow each dialled number goes to (one flow per number), and the default flow: the one marked
    ``default: true`` (at most one), else ``main``, else the only flow, else none."""
    numbers: dict[str, str] = {}
    defaults = []
    for st in files:
        listed = st.raw.get("numbers")
        for i, number in enumerate(listed if isinstance(listed, list) else []):
            if not isinstance(number, str):
                continue
            key = normalize_number(number)
            if len(key.lstrip("+")) < 3 and not key.startswith(("sip:", "client:")):
                sink.error(st, ("numbers", i), f"'{number}' is not a phone number")
            elif key in numbers and numbers[key] != st.name:
                sink.error(st, ("numbers", i), f"{number} already goes to flow '{numbers[key]}'")
            else:
                numbers[key] = st.name
        if st.raw.get("default") is True:
            defaults.append(st)
    if len(defaults) > 1:
        for st in defaults[1:]:
            sink.error(st, ("default",), f"flow '{defaults[0].name}' is already the default flow")
    if defaults:
        return numbers, defaults[0].name
    names = [st.name for st in files]
    if "main" in names:
        return numbers, "main"
    if len(names) == 1:
        return numbers, names[0]
    return numbers, None
