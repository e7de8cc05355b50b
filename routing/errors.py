"""The one exception hierarchy of the ``routing`` package."""


class RoutingError(Exception):
    """Base of every error raised by the routing package."""


class UnknownAgent(RoutingError):
    """No agent with that id is registered."""


class UnknownReservation(RoutingError):
    """The offer does not exist any more (accepted, declined, timed out or cancelled)."""


class QueueConfigError(RoutingError):
    """Invalid queue configuration; ``problems`` lists ``(path, message)``."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
