"""Console accounts: agents and supervisors who sign in to the browser consoles.

Passwords are hashed with Argon2id (argon2-cffi); only the hash is stored. Each account has an ``epoch`` that is
part of its session identity, so changing the password or disabling the account ends every session it has.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from enum import Enum
from typing import Any

import redis as redis_lib
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ivr.errors import IvrError
from ivr.store import keys

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256


class AccountError(IvrError):
    """An account could not be created or changed; the message says what is wrong."""


class Role(str, Enum):
    """What an account may do: agents work calls; supervisors watch the floor, edit flows and manage accounts."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Account:
    username: str
    role: Role
    name: str
    agent_id: str | None = None
    disabled: bool = False
    epoch: int = 0
    created_at: float = 0.0

    @property
    def session_id(self) -> str:
        """What a signed-in session remembers: stops matching once the epoch moves on."""
        return f"{self.username}:{self.epoch}"

    def public(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role.value, "name": self.name, "agent_id": self.agent_id,
                "disabled": self.disabled, "created_at": self.created_at}


def shared_secret(redis: redis_lib.Redis) -> str:
    """The key signing console session cookies when IVR_SECRET_KEY is not set: one random key for every web
    process, made by the first to ask and kept in Redis."""
    redis.set(keys.SECRET_KEY, secrets.token_urlsafe(48), nx=True)
    return redis.get(keys.SECRET_KEY).decode()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")


class AccountStore:
    """Accounts in Redis (one hash each, plus a set of usernames); ``redis`` is passed in."""

    def __init__(self, redis: redis_lib.Redis, hasher: PasswordHasher | None = None):
        self.redis = redis
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def create(self, username: str, password: str, role: Role, *, name: str = "",
               agent_id: str | None = None) -> Account:
        """A new account; :class:`AccountError` if the username is taken or a value is invalid. An agent account
        names the routing agent it works as (``ivr agents add``)."""
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise AccountError("the username must be 2 to 32 characters: lower-case letters, digits, '.', '_' "
                               "or '-', starting with a letter or digit")
        check_password(password)
        if role is Role.AGENT and not agent_id:
            raise AccountError("an agent account needs the agent id it works as")
        if role is Role.SUPERVISOR:
            agent_id = None
        fields = {"username": username, "role": role.value, "name": name.strip() or username,
                  "agent_id": agent_id or "", "disabled": "0", "epoch": "0", "created_at": repr(time.time()),
                  "hash": self.hasher.hash(password)}
        if not self.redis.hsetnx(keys.account(username), "username", username):
            raise AccountError(f"there is already an account '{username}'")
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.account(username), mapping=fields)
        pipe.sadd(keys.ACCOUNTS, username)
        pipe.execute()
        return self._account(fields)

    def get(self, username: str) -> Account | None:
        raw = self.redis.hgetall(keys.account(username))
        return self._account({k.decode(): v.decode() for k, v in raw.items()}) if raw.get(b"hash") else None

    def all(self) -> list[Account]:
        names = sorted(n.decode() for n in self.redis.smembers(keys.ACCOUNTS))
        return [a for a in (self.get(n) for n in names) if a is not None]

    def for_session(self, session_id: str) -> Account | None:
        """The enabled account a session id (``username:epoch``) still belongs to, else None."""
        username, _, epoch = session_id.rpartition(":")
        account = self.get(username) if username else None
        if account is None or account.disabled or str(account.epoch) != epoch:
            return None
        return account

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the password is right and the account enabled; None otherwise. An unknown username
        costs a hash verification too, so response time does not tell which usernames exist."""
        username = username.strip().lower()
        stored = self.redis.hget(keys.account(username), "hash") if USERNAME.match(username) else None
        if stored is None:
            self._verify(self._dummy(), password)
            return None
        if not self._verify(stored.decode(), password):
            return None
        account = self.get(username)
        if account is None or account.disabled:
            return None
        if self.hasher.check_needs_rehash(stored.decode()):
            self.redis.hset(keys.account(username), "hash", self.hasher.hash(password))
        return account

    def set_password(self, username: str, password: str) -> None:
        """A new password; every session of the account ends."""
        check_password(password)
        self._require(username)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.account(username), "hash", self.hasher.hash(password))
        pipe.hincrby(keys.account(username), "epoch", 1)
        pipe.execute()

    def set_disabled(self, username: str, disabled: bool) -> None:
        """Disable (ending every session) or enable an account."""
        self._require(username)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.account(username), "disabled", "1" if disabled else "0")
        pipe.hincrby(keys.account(username), "epoch", 1)
        pipe.execute()

    def _require(self, username: str) -> None:
        if self.get(username) is None:
            raise AccountError(f"there is no account '{username}'")

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("not a real password, only for timing")
        return self._dummy_hash

    @staticmethod
    def _account(fields: dict[str, str]) -> Account:
        return Account(username=fields["username"], role=Role(fields["role"]), name=fields.get("name") or "",
                       agent_id=fields.get("agent_id") or None, disabled=fields.get("disabled") == "1",
                       epoch=int(fields.get("epoch") or 0), created_at=float(fields.get("created_at") or 0))


class SignInThrottle:
    """Slows password guessing: after ``per_account`` failed sign-ins to one username, or ``per_client`` from one
    address, within ``window`` seconds, further attempts are refused until the window ends. A success clears the
    account's count. The window starts at the first failure."""

    def __init__(self, redis: redis_lib.Redis, *, per_account: int = 10, per_client: int = 50, window: int = 900):
        self.redis = redis
        self.per_account, self.per_client, self.window = per_account, per_client, window

    def retry_after(self, username: str, client: str) -> int:
        """Seconds until this username may be tried again from this client; 0 when it may be now."""
        pipe = self.redis.pipeline(transaction=False)
        for key in self._keys(username, client):
            pipe.get(key)
            pipe.ttl(key)
        account_count, account_ttl, client_count, client_ttl = pipe.execute()
        waits = [max(int(ttl), 1) for count, ttl, limit in ((account_count, account_ttl, self.per_account),
                                                            (client_count, client_ttl, self.per_client))
                 if count is not None and int(count) >= limit]
        return max(waits, default=0)

    def failed(self, username: str, client: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key in self._keys(username, client):
            pipe.incr(key)
            pipe.expire(key, self.window, nx=True)
        pipe.execute()

    def succeeded(self, username: str) -> None:
        self.redis.delete(self._keys(username, "")[0])

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return keys.sign_in_failures("account", username.strip().lower()), keys.sign_in_failures("client", client)
