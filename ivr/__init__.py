"""The call-flow engine: flow language, validation, the pure step function, sessions, publishing and the CLI."""

__version__ = "0.1.0"
