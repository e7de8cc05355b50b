"""Console accounts in a real Redis: Argon2 hashes, roles, sessions that end with a password change."""

from __future__ import annotations

import pytest

from ivr.store import keys
from ivr.store.accounts import AccountError, AccountStore, Role, SignInThrottle


@pytest.fixture
def store(redis):
    return AccountStore(redis)


def test_create_and_authenticate_keeps_only_an_argon2_hash(store, redis):
    account = store.create("Ana", "correct horse battery", Role.AGENT, agent_id="ana", name="Ana Lopez")
    assert (account.username, account.role, account.agent_id, account.name) == ("ana", Role.AGENT, "ana", "Ana Lopez")
    stored = redis.hget(keys.account("ana"), "hash").decode()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert store.authenticate("ana", "correct horse battery") == account
    assert store.authenticate("ANA ", "correct horse battery") == account
    assert store.authenticate("ana", "wrong horse battery") is None
    assert store.authenticate("nobody", "correct horse battery") is None


@pytest.mark.parametrize("username, password, role, agent_id, message", [
    ("a", "correct horse battery", Role.SUPERVISOR, None, "2 to 32 characters"),
    ("bad name", "correct horse battery", Role.SUPERVISOR, None, "2 to 32 characters"),
    ("sam", "short", Role.SUPERVISOR, None, "at least 10 characters"),
    ("ana", "correct horse battery", Role.AGENT, None, "needs the agent id"),
])
def test_invalid_accounts_are_refused_with_the_reason(store, username, password, role, agent_id, message):
    with pytest.raises(AccountError, match=message):
        store.create(username, password, role, agent_id=agent_id)
    assert store.all() == []


def test_a_username_is_taken_once(store):
    store.create("sam", "correct horse battery", Role.SUPERVISOR)
    with pytest.raises(AccountError, match="already an account 'sam'"):
        store.create("sam", "another password!!", Role.SUPERVISOR)
    assert store.authenticate("sam", "correct horse battery") is not None


def test_password_change_and_disabling_end_sessions(store):
    account = store.create("sam", "correct horse battery", Role.SUPERVISOR)
    assert store.for_session(account.session_id) == account
    store.set_password("sam", "a brand new password")
    assert store.for_session(account.session_id) is None
    assert store.authenticate("sam", "correct horse battery") is None
    renewed = store.authenticate("sam", "a brand new password")
    store.set_disabled("sam", True)
    assert store.for_session(renewed.session_id) is None
    assert store.authenticate("sam", "a brand new password") is None
    store.set_disabled("sam", False)
    assert store.authenticate("sam", "a brand new password") is not None
    with pytest.raises(AccountError, match="no account 'nobody'"):
        store.set_password("nobody", "a brand new password")


def test_the_throttle_stops_guessing_per_account_and_per_client(redis):
    throttle = SignInThrottle(redis, per_account=3, per_client=5, window=600)
    for _ in range(2):
        throttle.failed("sam", "10.0.0.1")
    assert throttle.retry_after("sam", "10.0.0.1") == 0
    throttle.failed("SAM", "10.0.0.1")
    assert 590 <= throttle.retry_after("sam", "10.0.0.9") <= 600  # the account is locked from anywhere
    assert throttle.retry_after("ana", "10.0.0.9") == 0
    throttle.failed("ana", "10.0.0.1")
    throttle.failed("bob", "10.0.0.1")  # five failures from this address
    assert throttle.retry_after("carla", "10.0.0.1") > 0 and throttle.retry_after("carla", "10.0.0.2") == 0
    throttle.succeeded("ana")
    assert redis.get("ivr:sign-in-failures:account:ana") is None
