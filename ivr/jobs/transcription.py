"""Voicemail transcription, run by the RQ worker: the recording is fetched from Twilio (HTTP basic auth with the
account's credentials), decoded, transcribed with the Vosk model of the call's flow language, and the transcript
is stored on the call log (``transcript*`` fields of the call and a ``transcription`` step).

Only Twilio's own API host (``api.twilio.com``, over https) or the configured ``TWILIO_API_URL`` is ever
contacted, and only for a recording of the configured account: a forged ``RecordingUrl`` cannot make the worker
fetch another host with the account's credentials (SSRF). Network faults and recordings not yet available are
retried (``rq.Retry``); wrong credentials, a missing model or an unreadable file are recorded at once. A
recording is transcribed once: a retried or duplicated job finds its final state and stops.
"""

from __future__ import annotations

import logging
import re
import time
from enum import Enum
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import redis as redis_lib
import requests
from rq import Queue, Retry, get_current_job

from ivr.store.calllog import CallLog
from ivr.config import Settings
from ivr.errors import IvrError
from ivr.jobs.tasks import QUEUE_NAME, _job_connection
from ivr.services.scheduling import Recording
from speech.audio import decode_wav
from speech.errors import WavError
from speech.models import ModelRegistry
from speech.transcribe import transcribe

log = logging.getLogger(__name__)

TWILIO_API_ORIGIN = ("https", "api.twilio.com", 443)
MAX_RECORDING_BYTES = 64 * 1024 * 1024  # 8 kHz 16-bit mono: about 70 minutes, beyond Twilio's 1 h <Record>
TIMEOUT = (5, 60)
MAX_REDIRECTS = 3
RETRY = Retry(max=4, interval=[10, 60, 300, 900])
_RECORDING_PATH = re.compile(r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE\w+?)(?:\.wav)?$")


class TranscriptionStatus(str, Enum):
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


def enqueue_transcription(connection: redis_lib.Redis, calllog: CallLog, recording: Recording) -> None:
    """Mark the call's voicemail as queued for transcription and queue the job."""
    calllog.set_transcription(recording.call_sid, recording.url,
                              {"transcript_status": TranscriptionStatus.QUEUED.value,
                               "transcript_language": recording.language}, final=False)
    Queue(QUEUE_NAME, connection=connection).enqueue(
        transcribe_recording, recording.call_sid, recording.url, recording.language, recording.flow,
        recording.node, retry=RETRY, result_ttl=3600, failure_ttl=7 * 86400, job_timeout=900)


def transcribe_recording(call_sid: str, recording_url: str, language: str, flow: str = "", node: str = "",
                         connection: redis_lib.Redis | None = None,
                         session: requests.Session | None = None) -> dict[str, Any]:
    """The RQ job: fetch, transcribe and store one voicemail; returns the stored status (and text)."""
    connection = connection or _job_connection()
    settings = Settings.from_env()
    calllog = CallLog(connection, settings.calllog_ttl)
    if calllog.transcription_final(call_sid, recording_url):
        return {"status": "already transcribed"}

    def store(status: TranscriptionStatus, *, text: str | None = None, confidence: float | None = None,
              error: str | None = None) -> dict[str, Any]:
        fields = {"transcript_status": status.value, "transcript_language": language, "transcript": text,
                  "transcript_confidence": confidence, "transcript_error": error, "transcript_at": time.time()}
        step = {"flow": flow, "node": node, "kind": "transcription", "outcome": status.value,
                "language": language, "at": time.time(),
                **({"text": text} if text is not None else {}), **({"error": error} if error else {})}
        calllog.set_transcription(call_sid, recording_url, fields, final=True, step=step)
        return {"status": status.value, "text": text, "error": error}

    try:
        url = media_url(recording_url, settings.twilio_account_sid, settings.twilio_api_url)
    except RecordingRefused as e:
        log.warning("call %s: recording refused: %s", call_sid, e)
        return store(TranscriptionStatus.REFUSED, error=str(e))
    registry = ModelRegistry()  # models are loaded once per worker process and shared by its registries
    if registry.info(language) is None:
        return store(TranscriptionStatus.NO_MODEL, error=f"no model for {language}")
    try:
        wav = decode_wav(fetch_recording(url, (settings.twilio_account_sid, settings.twilio_auth_token),
                                         session))
    except RecordingUnavailable as e:
        job = get_current_job()
        if job is not None and job.retries_left:
            log.info("call %s: %s; retrying (%s left)", call_sid, e, job.retries_left)
            raise
        return store(TranscriptionStatus.FAILED, error=str(e))
    except (TranscriptionError, WavError) as e:
        return store(TranscriptionStatus.FAILED, error=str(e))
    try:
        transcript = transcribe(registry.get(language), wav.pcm, wav.rate)
    except Exception as e:  # a model that fails to load or run: recorded, not retried (it would fail again)
        log.exception("call %s: transcription failed", call_sid)
        return store(TranscriptionStatus.FAILED, error=f"transcription failed: {type(e).__name__}: {e}")
    return store(TranscriptionStatus.DONE, text=transcript.text, confidence=transcript.confidence)
