"""Do open consoles slow callers down? Webhook latency while agent consoles hold event streams, same run.

    .venv/bin/python bench/consoles.py [--consoles 12] [--threads 8] [--seconds 8]

One gunicorn worker (gthread, ``--threads`` threads) on the project's own Redis. Three phases, each with the same
paced callers walking the sample flow by keys (bench/webhooks.py's callers): *no consoles* (the baseline), then
``--consoles`` agent consoles each holding ``GET /api/agent/events`` open, first with no stream cap
(``IVR_STREAM_SLOTS=0``), then with the cap ``ivr serve`` sets (half the threads). Prints webhook p50/p99, failed
requests, streams served and refused, and each phase's p99 against the baseline.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import sys
import threading
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.runner.processes import running_stack  # noqa: E402
from ivr.runner.redis import connect  # noqa: E402
from ivr.store.tokens import AgentTokens  # noqa: E402
from routing.acd import Distributor  # noqa: E402
from routing.model import Agent  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_webhooks", ROOT / "bench" / "webhooks.py")
bench_webhooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_webhooks)  # type: ignore[union-attr]


class Console(threading.Thread):
    """An agent console: keeps the event stream open (reconnecting as a browser does) until told to stop."""

    def __init__(self, base: str, token: str, stop: threading.Event, tally: dict[str, int], lock: threading.Lock):
        super().__init__(daemon=True)
        self.url, self.headers = base + "/api/agent/events", {"Authorization": f"Bearer {token}"}
        self.stop, self.tally, self.lock = stop, tally, lock

    def count(self, what: str) -> None:
        with self.lock:
            self.tally[what] = self.tally.get(what, 0) + 1

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with requests.get(self.url, headers=self.headers, stream=True, timeout=(5, 30)) as response:
                    if response.status_code != 200:
                        self.count("refused")
                        self.stop.wait(float(response.headers.get("Retry-After", "5")))
                        continue
                    self.count("served")
                    for _line in response.iter_lines():
                        if self.stop.is_set():
                            return
            except requests.RequestException:
                self.count("broken")
                self.stop.wait(1)


def phase(consoles: int, cap: int, threads: int, seconds: float, calls: int, think: float) -> dict:
    token = secrets.token_hex(16)
    env = {"TWILIO_AUTH_TOKEN": token, "IVR_FLOWS_DIR": str(ROOT / "flows"), "IVR_SESSION_TTL": "600",
           "IVR_STREAM_SLOTS": str(cap)}
    with running_stack(host="127.0.0.1", port=bench_webhooks.free_port(), workers=1, threads=threads,
                       with_worker=False, env_overrides=env, quiet=True) as stack:
        redis = connect(stack.redis_url)
        router, tokens = Distributor(redis), AgentTokens(redis)
        stop, tally, lock = threading.Event(), {}, threading.Lock()
        streams = []
        for i in range(consoles):
            router.register(Agent(f"a{i}", f"Agent {i}", {"billing": 1}))
            streams.append(Console(stack.base_url, tokens.issue(f"a{i}"), stop, tally, lock))
        for console in streams:
            console.start()
        bench_webhooks.measure(stack.base_url, token, 2, 1.0, 0.0)  # warm up
        result = bench_webhooks.measure(stack.base_url, token, calls, seconds, think)
        stop.set()
        result.update(served=tally.get("served", 0), refused=tally.get("refused", 0))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consoles", type=int, default=12, help="agent consoles holding event streams")
    parser.add_argument("--threads", type=int, default=8, help="threads of the one gunicorn worker")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each phase")
    parser.add_argument("--calls", type=int, default=8, help="concurrent paced callers")
    parser.add_argument("--think", type=float, default=0.2, help="pause between a prompt and the key")
    args = parser.parse_args()
    os.environ.pop("REDIS_URL", None)
    cap = max(1, args.threads // 2)
    rows = [("no consoles", phase(0, 0, args.threads, args.seconds, args.calls, args.think)),
            (f"{args.consoles} consoles, no cap", phase(args.consoles, 0, args.threads, args.seconds, args.calls,
                                                        args.think)),
            (f"{args.consoles} consoles, cap {cap}", phase(args.consoles, cap, args.threads, args.seconds,
                                                           args.calls, args.think))]
    baseline = rows[0][1]["p99_ms"]
    print(f"one gunicorn worker, {args.threads} threads; {args.calls} paced callers for {args.seconds:.0f} s each")
    print(f"{'phase':<26} {'requests':>8} {'p50 ms':>8} {'p99 ms':>9} {'failed':>7} {'streams':>8} "
          f"{'refused':>8} {'p99/baseline':>13}")
    for name, r in rows:
        print(f"{name:<26} {r['requests']:>8} {r['p50_ms']:>8.1f} {r['p99_ms']:>9.1f} {r['errors']:>7} "
              f"{r['served']:>8} {r['refused']:>8} {r['p99_ms'] / baseline:>13.2f}")


if __name__ == "__main__":
    main()
