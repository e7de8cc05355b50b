"""Published flow bundles in Redis: numbered versions, an atomic "current" pointer, history and rollback.

A bundle is every flow file of the flows directory (``{filename: yaml text}``), published as one version, so a
call pinned to a version sees a consistent set of flows and subflows.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Callable, Mapping

import redis as redis_lib

from ivr.errors import StaleVersionError, StoreError
from ivr.store import keys

Validator = Callable[[Mapping[str, str]], None]


def _digest(sources: Mapping[str, str]) -> dict[str, str]:
    return {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(sources.items())}


class FlowStore:
    """Versions of the flow bundle; ``redis`` is passed in."""

    def __init__(self, redis: redis_lib.Redis):
        self.redis = redis

    def current_version(self) -> int | None:
        try:
            raw = self.redis.get(keys.FLOWS_CURRENT)
        except redis_lib.RedisError as e:
            raise StoreError(f"cannot read the current flow version: {e}") from e
        return int(raw) if raw is not None else None

    @staticmethod
    def queue_current_version(pipe: redis_lib.client.Pipeline) -> None:
        """Queue the read of the live version's number on ``pipe`` (to share a round trip); its result is the
        number as bytes, or None when nothing is published."""
        pipe.get(keys.FLOWS_CURRENT)

    def get(self, version: int) -> dict[str, str]:
        """The sources of ``version``; :class:`StoreError` when there is no such version."""
        try:
            raw = self.redis.get(keys.flows_version(version))
        except redis_lib.RedisError as e:
            raise StoreError(f"cannot read flow version {version}: {e}") from e
        if raw is None:
            raise StoreError(f"no flow version {version}")
        return json.loads(raw)["sources"]

    def publish(self, sources: Mapping[str, str], validate: Validator, *, author: str, message: str,
                expected: int | None = None) -> int:
        """Validate, store as a new version, and switch new calls to it — or change nothing.

        ``validate`` raises (``FlowError``) for an invalid bundle, which then propagates with nothing stored.
        Publishing what is already live is a no-op returning the current version. With ``expected`` (the version
        an edit was based on), :class:`StaleVersionError` unless that version is still live when switching.
        """
        validate(sources)
        files = _digest(sources)
        current = self.current_version()
        if expected is not None and current != expected:
            raise StaleVersionError(expected, current)
        if current is not None and self._files(current) == files:
            return current
        version = int(self.redis.incr(keys.FLOWS_COUNTER))
        document = {"version": version, "sources": dict(sources), "files": files}
        self._switch(version, "publish", author, message, document, expected)
        return version

    def rollback(self, validate: Validator, *, to: int | None = None, author: str = "", message: str = "",
                 expected: int | None = None) -> int:
        """Make ``to`` (default: the version live before the current one) current again, if it still validates.

        With ``expected``, :class:`StaleVersionError` unless that version is the live one until the switch."""
        current = self.current_version()
        if expected is not None and current != expected:
            raise StaleVersionError(expected, current)
        if to is None:
            previous = [e["version"] for e in self.history(limit=1000) if e["version"] != current]
            if not previous:
                raise StoreError("there is no earlier version to roll back to")
            to = previous[0]
        if to == current:
            raise StoreError(f"version {to} is already live")
        sources = self.get(to)
        try:
            validate(sources)
        except Exception as e:
            raise StoreError(f"version {to} no longer validates:\n{e}") from e
        self._switch(to, "rollback", author, message or f"rollback from v{current} to v{to}", None, expected)
        return to

    def history(self, limit: int = 20) -> list[dict[str, Any]]:
        """Publish and rollback events, newest first; ``current`` marks the live version on its latest event."""
        raw = self.redis.lrange(keys.FLOWS_HISTORY, 0, max(limit, 1) - 1)
        current = self.current_version()
        events = [json.loads(item) for item in raw]
        marked = False
        for event in events:
            event["current"] = not marked and event["version"] == current
            marked = marked or event["current"]
        return events

    def directory_digest(self, directory_id: str) -> str | None:
        """The digest of the flows directory ``directory_id`` (its absolute path) as it was when last published or
        exported as the live version; None when it never was."""
        recorded = self.redis.hget(keys.FLOWS_DIRECTORIES, directory_id)
        return recorded.decode() if recorded is not None else None

    def record_directory(self, directory_id: str, digest: str) -> None:
        """Remember that the flows directory ``directory_id`` held files of ``digest`` when it was published or
        exported as the live version (so a server start republishes it only when its files changed)."""
        self.redis.hset(keys.FLOWS_DIRECTORIES, directory_id, digest)

    def _files(self, version: int) -> dict[str, str] | None:
        raw = self.redis.get(keys.flows_version(version))
        return json.loads(raw)["files"] if raw else None

    def _switch(self, version: int, kind: str, author: str, message: str, document: dict[str, Any] | None,
                expected: int | None = None) -> None:
        event = {"version": version, "kind": kind, "author": author, "message": message,
                 "published_at": time.time()}
        if document is not None:
            event["files"] = document["files"]
        else:
            event["files"] = self._files(version)
        try:
            with self.redis.pipeline(transaction=True) as pipe:
                if expected is not None:  # check-and-switch: the transaction fails if another switch comes between
                    pipe.watch(keys.FLOWS_CURRENT)
                    live = pipe.get(keys.FLOWS_CURRENT)
                    if live is None or int(live) != expected:
                        raise StaleVersionError(expected, int(live) if live is not None else None)
                    pipe.multi()
                if document is not None:
                    pipe.set(keys.flows_version(version), json.dumps(document))
                pipe.set(keys.FLOWS_CURRENT, version)
                pipe.lpush(keys.FLOWS_HISTORY, json.dumps(event))
                pipe.ltrim(keys.FLOWS_HISTORY, 0, 999)
                pipe.execute()
        except redis_lib.WatchError as e:
            raise StaleVersionError(expected or 0, self.current_version()) from e
        except redis_lib.RedisError as e:
            raise StoreError(f"cannot publish version {version}: {e}") from e
