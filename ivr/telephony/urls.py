"""The webhook URL layout: every path Twilio is given to call back into the system, for the web app and the worker.

The routes in ``webhooks/twilio`` are declared on these same paths; everything that *builds* such a URL (TwiML
action URLs, the REST redirects and outbound calls of the worker) builds it here, from the public base URL.
"""

from __future__ import annotations

#: An incoming call (the number's voice webhook).
VOICE = "/twilio/voice"
#: Every continuation of a call: ``?seq=<answer number>&on=<event kind>``.
CONTINUE = "/twilio/continue"
#: The queue's wait URL (hold announcements).
WAIT = "/twilio/wait"
#: The ring to an agent ended: ``?agent=<agent id>``.
AGENT_LEG = "/twilio/agent"
#: The callee of a callback answered: ``?id=<callback request id>``.
CALLBACK = "/twilio/callback"
#: Call status callbacks.
STATUS = "/twilio/status"
#: The two-way media stream of a speech prompt (a WebSocket).
MEDIA = "/twilio/media"
#: Rendered prompt audio for ``<Play>``: ``/prompts/<key>.wav``.
PROMPTS = "/prompts"


def continue_path(seq: int, event: str) -> str:
    """Where Twilio reports ``event`` (``gather``, ``noinput``, ``leave``...) of the call's answer ``seq``."""
    return f"{CONTINUE}?seq={seq}&on={event}"


def agent_leg_path(agent_id: str) -> str:
    """Where Twilio reports the end of the ring to agent ``agent_id``."""
    return f"{AGENT_LEG}?agent={agent_id}"


def callback_path(callback_id: str) -> str:
    """What an outbound callback call fetches once answered."""
    return f"{CALLBACK}?id={callback_id}"


def prompt_path(key: str) -> str:
    """The rendered audio of prompt ``key``."""
    return f"{PROMPTS}/{key}.wav"


def absolute(base_url: str, path_and_query: str) -> str:
    """``path_and_query`` on the public ``base_url`` (scheme and host, no trailing slash)."""
    return f"{base_url}{path_and_query}"


def websocket(url: str) -> str:
    """An ``http(s)://`` URL of ours as a WebSocket URL: ``wss://`` (``ws://`` for a plain-HTTP development URL)."""
    return "wss://" + url[len("https://"):] if url.startswith("https://") else "ws://" + url[len("http://"):]
