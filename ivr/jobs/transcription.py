"""Voicemail transcription, run by the RQ worker: the recording is fetched from Twilio (HTTP basic auth with the
account's credentials, see :mod:`ivr.services.transcription`), decoded, transcribed with the Vosk model of the
call's flow language, and the transcript is stored on the call log (``transcript*`` fields of the call and a
``transcription`` step).

Network faults and recordings not yet available are retried (``rq.Retry``); wrong credentials, a missing model or
an unreadable file are recorded at once. A recording is transcribed once: a retried or duplicated job finds its
final state and stops.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis as redis_lib
import requests
from rq import get_current_job

from ivr.bootstrap import worker_services
from ivr.jobs.queue import job_connection
from ivr.services.transcription import (RecordingRefused, RecordingUnavailable, TranscriptionError, TranscriptionStatus,
                                        fetch_recording, media_url)
from speech.audio import decode_wav
from speech.errors import WavError
from speech.transcribe import transcribe

log = logging.getLogger(__name__)

def transcribe_recording(call_sid: str, recording_url: str, language: str, flow: str = "", node: str = "",
                         connection: redis_lib.Redis | None = None,
                         session: requests.Session | None = None) -> dict[str, Any]:
    """The RQ job: fetch, transcribe and store one voicemail; returns the stored status (and text)."""
    services = worker_services(connection or job_connection())
    settings = services.settings
    calllog = services.calllog
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
    registry = services.models  # models are loaded once per worker process and shared by its registries
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
