"""Every Redis key of the ``speech`` package, under the ``speech:`` prefix."""

PREFIX = "speech:"


def prompt(key: str) -> str:
    """Mu-law frames of one rendered prompt (content-addressed by :func:`speech.prompts.key_for`)."""
    return f"{PREFIX}prompt:{key}"
