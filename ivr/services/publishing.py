"""Published flow bundles as the running system sees them: parsed once per version per process."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path
from typing import Callable, Mapping

from ivr.errors import FlowError, StoreError
from ivr.flowlang.compile import load_bundle
from ivr.flowlang.model import Bundle
from ivr.flowlang.sources import read_directory
from ivr.store.flowversions import FlowStore
from routing.acd import Distributor

log = logging.getLogger(__name__)

#: Called with the version and its bundle after a publish or a rollback made it live.
OnPublish = Callable[[int, Bundle], None]


class FlowRepository:
    """Reads bundles from a :class:`FlowStore`, caching parsed versions (they are immutable once published)."""

    def __init__(self, store: FlowStore, service_urls: Mapping[str, str] | None = None, cache_size: int = 16,
                 on_publish: OnPublish | None = None):
        self.store = store
        self.service_urls = dict(service_urls or {})
        self.on_publish = on_publish
        self._cache: dict[int, Bundle] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def validate(self, sources: Mapping[str, str]) -> None:
        """Raise :class:`FlowError` unless ``sources`` is a valid bundle (the store's publish check)."""
        load_bundle(sources, service_urls=self.service_urls)

    def bundle(self, version: int) -> Bundle:
        with self._lock:
            cached = self._cache.get(version)
        if cached is not None:
            return cached
        bundle = load_bundle(self.store.get(version), service_urls=self.service_urls)
        with self._lock:
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[version] = bundle
        return bundle

    def current(self) -> tuple[int, Bundle]:
        version = self.store.current_version()
        if version is None:
            raise StoreError("no flow version is published: run 'ivr flows publish'")
        return version, self.bundle(version)

    def publish_directory(self, directory: str | Path, *, author: str, message: str) -> int:
        sources = read_directory(directory)
        version = self.store.publish(sources, self.validate, author=author, message=message)
        self.store.record_directory(_directory_id(directory), _sources_digest(sources))
        self._published(version)
        return version

    def publish_sources(self, sources: Mapping[str, str], *, author: str, message: str,
                        expected: int | None = None) -> int:
        """Publish an in-memory bundle ``{filename: yaml text}`` (the console's edits) like a directory: validated,
        then live with its routing settings and prompts. ``expected``: the version the edit was based on
        (:class:`~ivr.errors.StaleVersionError` when another version went live meanwhile)."""
        version = self.store.publish(sources, self.validate, author=author, message=message, expected=expected)
        self._published(version)
        return version

    def rollback(self, *, to: int | None = None, author: str = "", message: str = "",
                 expected: int | None = None) -> int:
        """Make an earlier version live again (validated first), with its routing settings and prompts."""
        version = self.store.rollback(self.validate, to=to, author=author, message=message, expected=expected)
        self._published(version)
        return version

    def _published(self, version: int) -> None:
        self.apply_routing_settings(version)  # also when unchanged: settings stored before this existed
        if self.on_publish is not None:
            self.on_publish(version, self.bundle(version))

    def apply_routing_settings(self, version: int) -> None:
        """The live version's queues.yaml defaults (offer timeout, missed offers before a break, wrap-up) go to
        Redis, where the routing scripts and jobs of every process read them; without queues.yaml, the
        defaults apply."""
        routing = self.bundle(version).routing
        acd = Distributor(self.store.redis)
        if routing is None:
            acd.reset_settings()
        else:
            acd.configure(routing.offer_timeout * 1000, routing.max_missed, routing.wrap_up * 1000)

    def export(self, version: int, directory: str | Path) -> dict[str, str]:
        """Write ``version``'s flow files into ``directory`` (the console's edits back into a checkout), and
        return what happened to each: ``new``, ``changed``, ``unchanged``, or ``not in vN`` for a YAML file of the
        directory the version does not have (left alone). Exporting the live version marks the directory as
        published, so the next server start does not publish it again."""
        sources = self.store.get(version)
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        report: dict[str, str] = {}
        for name, text in sorted(sources.items()):
            if Path(name).name != name or name.startswith("."):
                raise StoreError(f"version {version} has a file name that is not a plain file name: {name!r}")
            path = target / name
            before = path.read_text(encoding="utf-8") if path.exists() else None
            report[name] = "new" if before is None else "unchanged" if before == text else "changed"
            if before != text:
                path.write_text(text, encoding="utf-8")
        for path in sorted(target.glob("*.yaml")):
            if path.name not in sources:
                report[path.name] = f"not in v{version}"
        if version == self.store.current_version() and all(not s.startswith("not in") for s in report.values()):
            self.store.record_directory(_directory_id(directory), _sources_digest(sources))
        return report

    def published_as_is(self, directory: str | Path) -> bool:
        """Something is live and ``directory``'s files are what they were when it was last published."""
        if self.store.current_version() is None:
            return False
        recorded = self.store.directory_digest(_directory_id(directory))
        return recorded is not None and recorded == _sources_digest(read_directory(directory))

    def publish_at_start(self, directory: str | Path) -> int | None:
        """Publish the flows directory when nothing is live yet, or when its files changed since it was last
        published; a publish or rollback made since (from the console or the command line) is never undone by a
        restart.

        A broken directory never replaces a working version: its problems are logged and the current version
        stays. Returns the version in effect (None when nothing valid was ever published).
        """
        try:
            if self.published_as_is(directory):
                return self.store.current_version()
            return self.publish_directory(directory, author="server-start", message=f"published from {directory}")
        except FlowError as e:
            log.error("flows in %s are invalid; keeping version %s:\n%s", directory,
                      self.store.current_version(), e)
        except StoreError as e:
            log.error("could not publish %s: %s", directory, e)
        return self.store.current_version()


def _directory_id(directory: str | Path) -> str:
    return str(Path(directory).resolve())


def _sources_digest(sources: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(sources.items())).encode()).hexdigest()
