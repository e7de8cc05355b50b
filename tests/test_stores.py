"""Sessions, the call log and flow versions against a real Redis."""

from __future__ import annotations

import pytest

from ivr.errors import Diagnostic, FlowError, SessionError, StoreError
from ivr.runner.redis import connect
from ivr.store import keys
from ivr.store.calllog import CallLog
from ivr.store.flowversions import FlowStore
from ivr.store.sessions import Session, SessionStore

SID = "CA" + "1" * 32


def accept(sources):
    return None


def reject(sources):
    raise FlowError([Diagnostic("main.yaml", 1, "", "broken")])


# -- sessions ------------------------------------------------------------------------------------------------------
def test_session_create_load_and_ttl(redis):
    store = SessionStore(redis, ttl=600)
    assert store.create(SID, Session(1, {"node": "menu"}, "<Response/>"))
    assert store.load(SID) == Session(1, {"node": "menu"}, "<Response/>")
    assert 0 < redis.ttl(keys.session(SID)) <= 600
    assert not store.create(SID, Session(1, {"node": "other"}))  # never overwrites a live call
    assert store.load(SID).state == {"node": "menu"}


def test_session_compare_and_set_and_step_log(redis):
    store = SessionStore(redis, ttl=600)
    store.create(SID, Session(1, {"n": 1}))
    assert store.save(SID, Session(2, {"n": 2}), expected_seq=1, append_to=keys.call_steps(SID),
                      items=["a", "b"], items_ttl=60)
    assert not store.save(SID, Session(3, {"n": 3}), expected_seq=1, append_to=keys.call_steps(SID),
                          items=["lost"], items_ttl=60)
    assert store.load(SID) == Session(2, {"n": 2})
    assert redis.lrange(keys.call_steps(SID), 0, -1) == [b"a", b"b"]  # the losing save logged nothing
    assert not store.save("CA" + "9" * 32, Session(2, {}), expected_seq=1)  # no such call


def test_closed_session_expires_soon(redis):
    store = SessionStore(redis, ttl=3600)
    store.create(SID, Session(1, {}))
    store.close(SID)
    assert redis.ttl(keys.session(SID)) <= 300


def test_redis_down_is_a_session_error():
    store = SessionStore(connect("redis://127.0.0.1:1/0"), ttl=60)
    with pytest.raises(SessionError):
        store.load(SID)


# -- call log ------------------------------------------------------------------------------------------------------
def test_call_log_lists_newest_first(redis):
    log = CallLog(redis, ttl=600)
    for i in range(3):
        log.start(f"CA{i}", caller="+1", called="+2", flow="main", version=1, started_at=1000.0 + i)
    log.add_steps("CA1", [{"node": "menu", "outcome": "prompted"}, {"node": "menu", "outcome": "chose"}])
    assert [c["call_sid"] for c in log.list()] == ["CA2", "CA1", "CA0"]
    assert [c["call_sid"] for c in log.list(limit=1, offset=1)] == ["CA1"]
    assert [s["outcome"] for s in log.get("CA1")["steps"]] == ["prompted", "chose"]
    assert 0 < redis.ttl(keys.call_summary("CA1")) <= 600


def test_finish_is_idempotent_and_never_goes_backwards(redis):
    log = CallLog(redis, ttl=600)
    log.start(SID, caller="+1", called="+2", flow="main", version=1, started_at=1.0)
    assert log.finish(SID, status="completed", disposition="queued", duration=30, ended_at=31.0)
    assert not log.finish(SID, status="in-progress", disposition=None, duration=5, ended_at=40.0)
    assert not log.finish(SID, status="completed", disposition="abandoned", duration=99, ended_at=50.0)
    record = log.get(SID)
    assert (record["status"], record["disposition"], record["duration"]) == ("completed", "queued", 30)


def test_expired_calls_leave_the_index(redis):
    log = CallLog(redis, ttl=600)
    log.start(SID, caller="+1", called="+2", flow="main", version=1, started_at=1.0)
    redis.delete(keys.call_summary(SID))
    assert log.list() == [] and redis.zcard(keys.CALL_INDEX) == 0


def test_agent_history_and_wrap_up(redis):
    log = CallLog(redis, ttl=600)
    for i, sid in enumerate(["CA1", "CA2", "CA3"]):
        log.start(sid, caller=f"+1555000{i}", called="+2", flow="main", version=1, started_at=1000.0 + i)
    log.agent_accepted("CA1", "ana", 1010.0)
    log.agent_accepted("CA2", "ana", 1020.0)
    log.agent_accepted("CA3", "ben", 1030.0)
    log.wrap_up("CA2", "ana", "resolved", "refund <sent>", 1050.0)
    assert [c["call_sid"] for c in log.agent_calls("ana", since=1000.0)] == ["CA2", "CA1"]
    assert [c["call_sid"] for c in log.agent_calls("ana", since=1015.0)] == ["CA2"]
    record = log.get("CA2")
    assert (record["agent"], record["accepted_at"], record["agent_disposition"], record["agent_notes"],
            record["wrapped_up_at"]) == ("ana", 1020.0, "resolved", "refund <sent>", 1050.0)
    assert [(s["kind"], s["outcome"]) for s in record["steps"]] == [("routing", "accepted"),
                                                                     ("wrap-up", "wrapped-up")]
    assert record["steps"][1]["notes"] == "refund <sent>"


# -- flow versions -------------------------------------------------------------------------------------------------
def test_publish_history_and_identical_publish(redis):
    store = FlowStore(redis)
    assert store.current_version() is None
    v1 = store.publish({"main.yaml": "a"}, accept, author="ann", message="first")
    assert store.publish({"main.yaml": "a"}, accept, author="bob", message="again") == v1
    v2 = store.publish({"main.yaml": "b"}, accept, author="bob", message="second")
    assert (v1, v2, store.current_version()) == (1, 2, 2)
    assert store.get(1) == {"main.yaml": "a"}
    history = store.history()
    assert [(e["version"], e["author"], e["current"]) for e in history] == [(2, "bob", True), (1, "ann", False)]


def test_invalid_bundle_is_never_stored(redis):
    store = FlowStore(redis)
    store.publish({"main.yaml": "good"}, accept, author="a", message="")
    with pytest.raises(FlowError):
        store.publish({"main.yaml": "bad"}, reject, author="a", message="")
    assert store.current_version() == 1 and len(store.history()) == 1


def test_rollback_and_versions_are_never_reused(redis):
    store = FlowStore(redis)
    for text in ("a", "b", "c"):
        store.publish({"main.yaml": text}, accept, author="a", message=text)
    assert store.rollback(accept) == 2
    assert store.rollback(accept, to=1) == 1
    assert store.publish({"main.yaml": "d"}, accept, author="a", message="d") == 4
    assert [e["kind"] for e in store.history()][:3] == ["publish", "rollback", "rollback"]
    with pytest.raises(StoreError, match="no flow version 9"):
        store.rollback(accept, to=9)
    with pytest.raises(StoreError, match="no longer validates"):
        store.rollback(reject, to=2)
    assert store.current_version() == 4


def test_nothing_to_roll_back_to(redis):
    store = FlowStore(redis)
    store.publish({"main.yaml": "a"}, accept, author="a", message="")
    with pytest.raises(StoreError, match="no earlier version"):
        store.rollback(accept)


def test_a_restart_republishes_a_directory_only_when_its_files_changed(redis, tmp_path):
    """A version published (or rolled back to) from the console survives server restarts; editing the files on
    disk still reaches the callers at the next start."""
    import shutil
    from pathlib import Path

    from ivr.services.publishing import FlowRepository

    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).resolve().parent.parent / "flows", flows)
    repo = FlowRepository(FlowStore(redis))
    assert repo.publish_at_start(flows) == 1
    assert repo.publish_at_start(flows) == 1  # nothing changed
    edited = dict(repo.store.get(1))
    edited["english.yaml"] = edited["english.yaml"].replace("Goodbye.", "Goodbye and thank you.")
    assert repo.publish_sources(edited, author="sam", message="from the console") == 2
    assert FlowRepository(FlowStore(redis)).publish_at_start(flows) == 2  # a restart keeps the console's v2
    assert repo.published_as_is(flows)
    english = flows / "english.yaml"
    english.write_text(english.read_text().replace("Goodbye.", "Bye now."))
    assert not repo.published_as_is(flows)
    assert FlowRepository(FlowStore(redis)).publish_at_start(flows) == 3  # the files changed: published
    assert "Bye now." in repo.store.get(3)["english.yaml"]


def test_export_writes_a_version_back_into_a_directory(redis, redis_url, tmp_path):
    """What was published from the console goes back into the team's checkout (ivr flows export)."""
    import shutil
    from pathlib import Path

    from click.testing import CliRunner

    from ivr.cli import main
    from ivr.services.publishing import FlowRepository

    flows = tmp_path / "flows"
    shutil.copytree(Path(__file__).resolve().parent.parent / "flows", flows)
    repo = FlowRepository(FlowStore(redis))
    repo.publish_at_start(flows)
    edited = dict(repo.store.get(1))
    edited["english.yaml"] = edited["english.yaml"].replace("Goodbye.", "Goodbye and thank you.")
    repo.publish_sources(edited, author="sam", message="from the console")
    (flows / "old.yaml").write_text("# not part of any version\n")
    result = CliRunner().invoke(main, ["flows", "export", str(flows)],
                                env={"REDIS_URL": redis_url, "IVR_FLOWS_DIR": str(flows)})
    assert result.exit_code == 0, result.output
    assert "  changed    english.yaml" in result.output and "  unchanged  main.yaml" in result.output
    assert "  not in v2  old.yaml" in result.output and "version 2 written to" in result.output
    assert "Goodbye and thank you." in (flows / "english.yaml").read_text()
    (flows / "old.yaml").unlink()
    assert repo.export(2, flows)["english.yaml"] == "unchanged"
    assert repo.published_as_is(flows) and repo.publish_at_start(flows) == 2  # a restart publishes nothing new
    other = tmp_path / "v1"
    assert set(repo.export(1, other).values()) == {"new"} and "Goodbye and thank you." not in \
        (other / "english.yaml").read_text()
