"""Voicemail transcription's pure parts: the statuses a transcript goes through, and fetching a recording's audio
from Twilio without ever fetching anything else (what a call left is
:class:`ivr.services.scheduling.Recording`; the RQ job that transcribes is :mod:`ivr.jobs.transcription`).

Only Twilio's own API host (``api.twilio.com``, over https) or the configured ``TWILIO_API_URL`` is ever
contacted, and only for a recording of the configured account: a forged ``RecordingUrl`` cannot make the worker
fetch another host with the account's credentials (SSRF).
"""

from __future__ import annotations

import re
from enum import Enum
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests

from ivr.errors import IvrError

TWILIO_API_ORIGIN = ("https", "api.twilio.com", 443)
MAX_RECORDING_BYTES = 64 * 1024 * 1024  # 8 kHz 16-bit mono: about 70 minutes, beyond Twilio's 1 h <Record>
TIMEOUT = (5, 60)
MAX_REDIRECTS = 3
_RECORDING_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE\w+?)(?:\.wav)?$")


class TranscriptionStatus(str, Enum):
    """Where a voicemail's transcript is (the call's ``transcript_status``)."""

    QUEUED = "queued"
    DONE = "done"
    NO_MODEL = "no-model"
    FAILED = "failed"
    REFUSED = "refused"


class TranscriptionError(IvrError):
    """The recording cannot be transcribed; recorded on the call as ``failed``."""


class RecordingRefused(TranscriptionError):
    """The recording URL is not one of the account's recordings on Twilio's API host."""


class RecordingUnavailable(TranscriptionError):
    """A fault worth retrying: the network, Twilio's side, or a recording not available yet."""


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


def media_url(recording_url: str, account_sid: str, api_url: str | None) -> str:
    """The WAV to fetch for Twilio's ``RecordingUrl``; :class:`RecordingRefused` unless it is a recording of
    ``account_sid`` on ``api.twilio.com`` (https) or on the configured ``api_url``."""
    parts = urlsplit(recording_url)
    allowed = {TWILIO_API_ORIGIN} | ({_origin(api_url)} if api_url else set())
    if parts.username or parts.password or _origin(recording_url) not in allowed:
        raise RecordingRefused(f"{parts.hostname or recording_url!r} is not Twilio's API host: not fetched")
    match = _RECORDING_PATH.match(parts.path)
    if match is None or match.group(1) != account_sid:
        raise RecordingRefused(f"{parts.path!r} is not a recording of account {account_sid}: not fetched")
    return urlunsplit((parts.scheme, parts.netloc, f"{parts.path.removesuffix('.wav')}.wav", "", ""))


def fetch_recording(url: str, auth: tuple[str, str], session: requests.Session | None = None,
                    max_bytes: int = MAX_RECORDING_BYTES) -> bytes:
    """The recording's bytes. Credentials go to ``url``'s own host only; Twilio's redirects are followed (https
    only, a few at most)."""
    http = session or requests.Session()
    origin = _origin(url)
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            response = http.get(url, auth=auth if _origin(url) == origin else None, timeout=TIMEOUT, stream=True,
                                allow_redirects=False)
            with response:
                if response.is_redirect and "Location" in response.headers:
                    url = urljoin(url, response.headers["Location"])
                    if urlsplit(url).scheme != "https" and _origin(url) != origin:
                        raise TranscriptionError(f"Twilio redirected the recording to {url!r}: not fetched")
                    continue
                if response.status_code in (401, 403):
                    raise TranscriptionError(f"Twilio refused the credentials (HTTP {response.status_code}): "
                                             "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
                if response.status_code == 404 or response.status_code == 429 or response.status_code >= 500:
                    raise RecordingUnavailable(f"recording not available (HTTP {response.status_code})")
                if response.status_code != 200:
                    raise TranscriptionError(f"unexpected HTTP {response.status_code} for the recording")
                if int(response.headers.get("Content-Length") or 0) > max_bytes:
                    raise TranscriptionError(f"the recording is larger than {max_bytes} bytes")
                body = bytearray()
                for chunk in response.iter_content(256 * 1024):
                    body += chunk
                    if len(body) > max_bytes:
                        raise TranscriptionError(f"the recording is larger than {max_bytes} bytes")
                return bytes(body)
        except requests.RequestException as e:
            raise RecordingUnavailable(f"cannot fetch the recording: {type(e).__name__}: {e}") from e
    raise TranscriptionError("too many redirects for the recording")
