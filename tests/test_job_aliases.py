"""RQ job paths of the previous flat layout still run (for one release): a job queued by the old code names its
function by dotted path, and a worker of the new code must find it."""

from __future__ import annotations

import importlib

import pytest
from rq import Queue, SimpleWorker
from rq.utils import import_attribute

from ivr.jobs.aliases import OLD_JOB_PATHS
from ivr.jobs.queue import JOB_PATHS, QUEUE_NAME
from ivr.jobs.stats import daily_stats

from tests.test_jobs import finished_call


@pytest.mark.parametrize("old_path", sorted(OLD_JOB_PATHS))
def test_every_old_job_path_names_the_moved_function(old_path):
    module, _, name = OLD_JOB_PATHS[old_path].partition(":")
    assert import_attribute(old_path) is getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("path", JOB_PATHS)
def test_every_job_path_the_queue_uses_names_a_function(path):
    assert callable(import_attribute(path)) and import_attribute(path).__module__ == path.rpartition(".")[0]


def test_a_job_queued_under_its_old_path_runs_on_a_real_worker(redis):
    finished_call(redis, "CA1")
    job = Queue(QUEUE_NAME, connection=redis).enqueue("ivr.jobs.count_finished_calls")
    assert SimpleWorker([QUEUE_NAME], connection=redis).work(burst=True)
    assert job.latest_result().return_value == {"seen": 1, "counted": 1}
    assert daily_stats(redis, "2026-11-18")["calls"] == 1


def test_names_that_were_never_jobs_are_not_invented():
    with pytest.raises(ValueError):  # rq's way of saying there is no such function
        import_attribute("ivr.jobs.no_such_job")
    with pytest.raises(ValueError):
        import_attribute("ivr.prompts.LocalPrompts")  # moved, but never a job: no alias
