"""Twilio's REST API as the routing edge uses it: redirect a live call (to ring an agent), hang one up, place an
outbound call (a callback).

Through twilio's own client; the base URL is configurable (``TWILIO_API_URL``) so the simulator can stand in for
Twilio in tests and demos.
"""

from __future__ import annotations

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from ivr.config import Settings
from ivr.errors import IvrError


class TwilioRestError(IvrError):
    """Twilio refused or could not be reached."""


class CallGone(TwilioRestError):
    """The call already ended (HTTP 404 / error 20404): nothing to redirect."""


class TwilioRest:
    def __init__(self, account_sid: str, auth_token: str, base_url: str | None = None):
        self.client = Client(account_sid, auth_token)
        if base_url:
            self.client.api.base_url = base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> "TwilioRest":
        """The account, token and API URL of ``settings`` (twilio's client refuses an empty token: without one
        requests are sent with a placeholder, and Twilio refuses them)."""
        return cls(settings.twilio_account_sid, settings.twilio_auth_token or "unset", settings.twilio_api_url)

    def redirect(self, call_sid: str, twiml: str) -> None:
        """Replace what a live call is doing with ``twiml``."""
        try:
            self.client.calls(call_sid).update(twiml=twiml)
        except TwilioRestException as e:
            if e.status == 404 or e.code == 20404:
                raise CallGone(f"call {call_sid} has ended") from e
            raise TwilioRestError(f"Twilio refused to redirect {call_sid}: {e.msg}") from e
        except TwilioException as e:
            raise TwilioRestError(f"cannot reach Twilio: {e}") from e

    def call(self, to: str, from_: str, url: str, status_callback: str | None = None) -> str:
        """Place an outbound call to ``to`` from our number ``from_``; Twilio fetches ``url`` (POST) for what to
        do once it is answered. Returns the new call's SID."""
        try:
            kwargs = {"status_callback": status_callback, "status_callback_method": "POST"} if status_callback else {}
            return str(self.client.calls.create(to=to, from_=from_, url=url, method="POST", **kwargs).sid)
        except TwilioRestException as e:
            raise TwilioRestError(f"Twilio refused to call {to}: {e.msg}") from e
        except TwilioException as e:
            raise TwilioRestError(f"cannot reach Twilio: {e}") from e
