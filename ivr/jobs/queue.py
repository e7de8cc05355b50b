"""The RQ queue of the IVR and what goes on it: the queue name, the job paths, and the functions that enqueue or
time each kind of job (used by the services through :class:`ivr.jobs.scheduler.RqScheduler`, by the composition
root and by the jobs themselves).

Everything here needs only a Redis connection: it runs in the web process as well as in the worker. What a job
*does* is in its own module (``ivr.jobs.stats``, ``routing_timers``, ``callbacks``, ``presence``, ``sweeps``,
``prompts``, ``wallboard``, ``transcription``), run by the worker on the services of the composition root
(:func:`ivr.bootstrap.worker_services`). Jobs are queued by dotted path, which is what RQ stores anyway: this
module never imports a job's module, so the composition root can wire these functions in without a circle.

A finished call's SID is pushed on a list by the status callback (cheap: no job per call,
:func:`ivr.store.finished.stage_finished`); the first push after the list was drained also queues one counting
job, which counts everything waiting (see ``ivr.jobs.stats``).
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from typing import Callable

import redis as redis_lib
from rq import Queue, Retry, get_current_job

from ivr.flowlang.model import Bundle
from ivr.services.prompts import static_prompts
from ivr.services.scheduling import Recording
from ivr.services.transcription import TranscriptionStatus
from ivr.services.wallboard import SAMPLE_EVERY
from ivr.store.calllog import CallLog
from ivr.store.chains import Chain, ChainMarkers
from routing.acd import Distributor
from routing.config import QueueConfig
from routing.model import Offer
from speech.prompts import PromptCache, PromptText

log = logging.getLogger(__name__)

QUEUE_NAME = "ivr"

# -- job paths (what RQ stores; each names the function in its module) ---------------------------------------------
COUNT_FINISHED_CALLS = "ivr.jobs.stats.count_finished_calls"
EXPIRE_OFFERS = "ivr.jobs.routing_timers.expire_offers"
END_WRAP_UP = "ivr.jobs.routing_timers.end_wrap_up"
ESCALATE_CALL = "ivr.jobs.routing_timers.escalate_call"
ENFORCE_MAX_WAIT = "ivr.jobs.routing_timers.enforce_max_wait"
RUN_CALLBACKS = "ivr.jobs.callbacks.run_callbacks"
CHECK_PRESENCE = "ivr.jobs.presence.check_presence"
REMATCH = "ivr.jobs.sweeps.rematch"
STARTUP_SWEEP = "ivr.jobs.sweeps.startup_sweep"
SAMPLE_WALLBOARD = "ivr.jobs.wallboard.sample_wallboard"
RENDER_VERSION_PROMPTS = "ivr.jobs.prompts.render_version_prompts"
RENDER_PROMPT = "ivr.jobs.prompts.render_prompt"
TRANSCRIBE_RECORDING = "ivr.jobs.transcription.transcribe_recording"
#: Every job path above (checked by the tests: each names a function).
JOB_PATHS = (COUNT_FINISHED_CALLS, EXPIRE_OFFERS, END_WRAP_UP, ESCALATE_CALL, ENFORCE_MAX_WAIT, RUN_CALLBACKS,
             CHECK_PRESENCE, REMATCH, STARTUP_SWEEP, SAMPLE_WALLBOARD, RENDER_VERSION_PROMPTS, RENDER_PROMPT,
             TRANSCRIBE_RECORDING)

#: Seconds without a request from an agent's console before they are signed out.
PRESENCE_TTL = 90
#: Seconds between two rematch sweeps.
REMATCH_EVERY = 30
RENDER_JOB_TIMEOUT = 1800
TRANSCRIPTION_RETRY = (4, [10, 60, 300, 900])


def queue(connection: redis_lib.Redis) -> Queue:
    """The ``ivr`` queue on ``connection``."""
    return Queue(QUEUE_NAME, connection=connection)


def job_connection() -> redis_lib.Redis:
    """The Redis connection of the RQ job being run (jobs may also be called directly with one)."""
    job = get_current_job()
    if job is None:
        raise RuntimeError("no connection given and not running inside an RQ job")
    return job.connection


def _timer_retry() -> Retry:
    return Retry(max=3, interval=[1, 5, 30])


# -- single chains (one job scheduled at a time, however many workers start) -------------------------------------
def start_chain(connection: redis_lib.Redis, chain: Chain, job_path: str, seconds: float) -> bool:
    """Schedule ``job_path`` in ``seconds`` unless the chain's marker says a job is already scheduled. The
    marker names the job that owns the chain and outlives its time by a minute, so a chain lost with its worker is
    restarted by the next worker's startup sweep; a late job of an older chain then finds the marker is not its
    own and does not reschedule (:func:`continue_chain`), so chains never multiply."""
    job_id = f"{chain.value}-{secrets.token_hex(8)}"
    if not ChainMarkers(connection).claim(chain, job_id, int(seconds) + 60):
        return False
    queue(connection).enqueue_in(timedelta(seconds=seconds), job_path, job_id=job_id, result_ttl=600,
                                 retry=_timer_retry())
    return True


def continue_chain(connection: redis_lib.Redis, chain: Chain, schedule: Callable[[redis_lib.Redis], bool]) -> None:
    """First thing a chain's job does: when it owns the chain (or the marker is gone), schedule the next one."""
    job = get_current_job()
    markers = ChainMarkers(connection)
    owner = markers.owner(chain)
    if owner is None or (job is not None and owner == job.id):
        markers.release(chain)
        schedule(connection)


# -- call statistics -----------------------------------------------------------------------------------------------
def enqueue_count(connection: redis_lib.Redis) -> None:
    """Queue the job counting every finished call waiting on the list."""
    queue(connection).enqueue(COUNT_FINISHED_CALLS, retry=Retry(max=3, interval=[5, 30, 120]), result_ttl=3600,
                              failure_ttl=7 * 86400)


# -- routing timers ------------------------------------------------------------------------------------------------
def schedule_offer_expiry(connection: redis_lib.Redis, offer: Offer) -> None:
    """Have the worker time the offer out when it expires (its scheduler runs the job then)."""
    delay_ms = max(0, offer.expires - int(time.time() * 1000)) + 250
    queue(connection).enqueue_in(timedelta(milliseconds=delay_ms), EXPIRE_OFFERS, retry=_timer_retry(),
                                 result_ttl=600)


def schedule_wrap_up_end(connection: redis_lib.Redis, agent_id: str, seconds: int) -> None:
    """End the agent's wrap-up in ``seconds`` (the end is also noted in Redis, so a lost job is made up for by the
    next worker's startup sweep)."""
    Distributor(connection).wrap_up_until(agent_id, int(time.time() * 1000) + seconds * 1000)
    queue(connection).enqueue_in(timedelta(seconds=seconds), END_WRAP_UP, agent_id, result_ttl=600,
                                 retry=_timer_retry())


def schedule_escalation(connection: redis_lib.Redis, call_sid: str, queue_config: QueueConfig) -> None:
    """One job per escalation step of the call's queue, each at its time (relaxing requirements, raising
    priority); a step that finds the call no longer waiting does nothing."""
    rq_queue = queue(connection)
    for step in queue_config.escalation:
        rq_queue.enqueue_in(timedelta(seconds=step.after), ESCALATE_CALL, call_sid,
                            dict(step.skills) if step.skills is not None else None, step.priority,
                            result_ttl=600, retry=_timer_retry())


def schedule_max_wait(connection: redis_lib.Redis, call_sid: str, queue_config: QueueConfig) -> None:
    """At the queue's maximum wait, the call overflows or leaves (when the queue has one)."""
    if queue_config.max_wait:
        queue(connection).enqueue_in(timedelta(seconds=queue_config.max_wait), ENFORCE_MAX_WAIT, call_sid,
                                     queue_config.on_max_wait, result_ttl=600, retry=_timer_retry())


def schedule_queue_timers(connection: redis_lib.Redis, call_sid: str, queue_config: QueueConfig) -> None:
    """A call entered an agent queue: its escalation steps and maximum wait become RQ jobs."""
    schedule_escalation(connection, call_sid, queue_config)
    schedule_max_wait(connection, call_sid, queue_config)


# -- callbacks -----------------------------------------------------------------------------------------------------
def enqueue_callbacks(connection: redis_lib.Redis) -> None:
    """Queue the job placing the callbacks that have an agent available."""
    queue(connection).enqueue(RUN_CALLBACKS, result_ttl=600, retry=_timer_retry())


# -- presence, rematch, wallboard ----------------------------------------------------------------------------------
def schedule_presence_check(connection: redis_lib.Redis, agent_id: str, seconds: float = PRESENCE_TTL) -> None:
    """Look at the agent's presence in ``seconds`` (signed out if their console went quiet)."""
    queue(connection).enqueue_in(timedelta(seconds=seconds), CHECK_PRESENCE, agent_id, result_ttl=600)


def schedule_rematch(connection: redis_lib.Redis, seconds: float = REMATCH_EVERY) -> bool:
    """Schedule the next rematch sweep unless one is already scheduled (one chain, however many workers start:
    see :func:`start_chain`)."""
    return start_chain(connection, Chain.REMATCH, REMATCH, seconds)


def schedule_sampling(connection: redis_lib.Redis, seconds: float = SAMPLE_EVERY) -> bool:
    """Schedule the wallboard's next sample unless one is already scheduled: one chain, however many workers start
    (see :func:`start_chain`)."""
    return start_chain(connection, Chain.WALLBOARD_SAMPLING, SAMPLE_WALLBOARD, seconds)


def enqueue_startup_sweep(connection: redis_lib.Redis) -> None:
    """Queue the sweep a starting worker runs first (what a dead worker left undone)."""
    queue(connection).enqueue(STARTUP_SWEEP, result_ttl=600)


# -- prompts -------------------------------------------------------------------------------------------------------
def schedule_version_prompts(connection: redis_lib.Redis, version: int, bundle: Bundle, rate: int) -> bool:
    """After a publish: queue the rendering of the version's static local prompts when some is not cached."""
    if not PromptCache(connection).missing(static_prompts(bundle, rate)):
        return False
    queue(connection).enqueue(RENDER_VERSION_PROMPTS, version, rate, job_id=f"ivr-prompts-v{version}-r{rate}",
                              job_timeout=RENDER_JOB_TIMEOUT, result_ttl=3600, failure_ttl=7 * 86400)
    return True


def publish_hook(connection: redis_lib.Redis, rate: int) -> Callable[[int, Bundle], None]:
    """``FlowRepository(on_publish=...)``: prompts are rendered when a version goes live, never failing it."""
    def on_publish(version: int, bundle: Bundle) -> None:
        try:
            schedule_version_prompts(connection, version, bundle, rate)
        except Exception:
            log.exception("could not queue the prompts of flow version %s for rendering", version)
    return on_publish


def prompt_renderer(connection: redis_lib.Redis) -> Callable[[PromptText, int | None], None]:
    """``LocalPrompts(enqueue=...)``: a dynamic prompt said by Twilio this time is rendered by the worker for the
    next time (one job per prompt, whatever the number of calls saying it meanwhile)."""
    def enqueue(prompt: PromptText, ttl: int | None) -> None:
        queue(connection).enqueue(
            RENDER_PROMPT, prompt.text, prompt.voice, prompt.language, prompt.rate, ttl,
            job_id=f"ivr-prompt-{prompt.key}", result_ttl=600, failure_ttl=86400)
    return enqueue


# -- transcription -------------------------------------------------------------------------------------------------
def enqueue_transcription(connection: redis_lib.Redis, calllog: CallLog, recording: Recording) -> None:
    """Mark the call's voicemail as queued for transcription and queue the job."""
    calllog.set_transcription(recording.call_sid, recording.url,
                              {"transcript_status": TranscriptionStatus.QUEUED.value,
                               "transcript_language": recording.language}, final=False)
    retries, intervals = TRANSCRIPTION_RETRY
    queue(connection).enqueue(
        TRANSCRIBE_RECORDING, recording.call_sid, recording.url, recording.language, recording.flow,
        recording.node, retry=Retry(max=retries, interval=intervals), result_ttl=3600, failure_ttl=7 * 86400,
        job_timeout=900)
