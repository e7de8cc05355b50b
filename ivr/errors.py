"""The one exception hierarchy of the ``ivr`` package."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from enum import Enum
from typing import Iterable


class IvrError(Exception):
    """Base of every error raised by the ivr package."""


class Severity(str, Enum):
    """An error makes a flow invalid; a warning is worth knowing but the flow still works."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a flow file, located precisely.

    Rendered as ``file:line: path: message`` (``file:line: path: warning: message`` for a warning) so editors and
    CI logs can jump to it.
    """

    file: str
    line: int
    path: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        location = f"{self.file}:{self.line}"
        message = self.message if self.is_error else f"{self.severity.value}: {self.message}"
        return f"{location}: {self.path}: {message}" if self.path else f"{location}: {message}"


def suggest(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class FlowError(IvrError):
    """A flow bundle failed to load or validate; ``diagnostics`` holds every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.file, d.line, d.path, d.message))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class EngineError(IvrError):
    """The engine could not advance a call (a bug or an inconsistent state); the caller gets the fallback."""


class SessionError(IvrError):
    """A call session is missing, expired or could not be stored."""


class StoreError(IvrError):
    """Publishing, history or rollback of flow versions failed."""


class StaleVersionError(StoreError):
    """A change was based on a flow version that is no longer live (someone published or rolled back meanwhile)."""

    def __init__(self, expected: int, live: int | None):
        self.expected = expected
        self.live = live
        super().__init__(f"version {live} was made live after version {expected}, which this change was based on: "
                         f"review the changes against version {live} and try again")
