"""Webhook throughput and latency: the IVR under gunicorn versus a bare Flask TwiML handler, same run.

    .venv/bin/python bench/webhooks.py [--calls 64] [--seconds 10] [--think 0.05]

Each simulated call walks the sample flow by keys (language → opening hours → main menu → status callback:
five signed webhooks) and starts again. Both servers run under the same gunicorn configuration as ``ivr serve``
(threaded workers, one per core plus one) on the project's own Redis. Two phases per server: *paced* (every caller pauses
``--think`` seconds between requests, like callers listening to prompts: latency under a realistic load) and
*saturated* (no pause: the most requests per second the server can answer). Prints requests/s, p50 and p99
latency of both servers and the IVR/bare ratios.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402

from ivr.runner.processes import DEFAULT_THREADS, DEFAULT_WORKER_CLASS, DEFAULT_WORKERS, running_stack  # noqa: E402

ACTION = re.compile(rb'<Gather action="([^"]+)"')
KEYS = ("1", "3", "9")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Caller(threading.Thread):
    """One simulated call after another over a keep-alive connection, recording each request's latency."""

    def __init__(self, base: str, token: str, think: float, stop_at: float, latencies: list[float],
                 errors: list[str]):
        super().__init__(daemon=True)
        parts = urlsplit(base)
        self.base, self.host, self.port = base, parts.hostname, parts.port
        self.validator = RequestValidator(token)
        self.think, self.stop_at = think, stop_at
        self.latencies, self.errors = latencies, errors
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)

    def post(self, url: str, params: dict[str, str]) -> bytes:
        body = urlencode(params)
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": self.validator.compute_signature(url, params)}
        started = time.perf_counter()
        self.conn.request("POST", url[len(self.base):], body, headers)
        response = self.conn.getresponse()
        data = response.read()
        self.latencies.append(time.perf_counter() - started)
        if response.status not in (200, 204):
            self.errors.append(f"{response.status} {url}")
        return data

    def run(self) -> None:
        time.sleep(random.uniform(0, self.think))  # calls arrive spread out, not all in the same millisecond
        while time.perf_counter() < self.stop_at:
            sid = "CA" + secrets.token_hex(16)
            params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+15551230000",
                      "To": "+15550100100", "CallStatus": "in-progress"}
            try:
                answer = self.post(self.base + "/twilio/voice", params)
                for key in KEYS:
                    # the caller listens to the prompt before pressing a key (jitter: callers are not in step)
                    time.sleep(self.think * random.uniform(0.5, 1.5))
                    match = ACTION.search(answer)
                    if not match:
                        self.errors.append(f"no Gather in {answer[:120]!r}")
                        break
                    answer = self.post(match.group(1).decode().replace("&amp;", "&"), {**params, "Digits": key})
                self.post(self.base + "/twilio/status", {**params, "CallStatus": "completed", "CallDuration": "9"})
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)


def measure(base: str, token: str, calls: int, seconds: float, think: float) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds
    callers = [Caller(base, token, think, stop_at, latencies, errors) for _ in range(calls)]
    started = time.perf_counter()
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": len(ordered), "rps": len(ordered) / elapsed,
            "p50_ms": 1000 * statistics.median(ordered) if ordered else float("nan"),
            "p99_ms": 1000 * ordered[int(len(ordered) * 0.99) - 1] if ordered else float("nan"),
            "errors": len(errors), "first_error": errors[0] if errors else ""}


def run_server(app_module: str, token: str, calls: int, seconds: float, think: float, workers: int,
               threads: int, worker_class: str) -> dict[str, dict]:
    env = {"TWILIO_AUTH_TOKEN": token, "IVR_FLOWS_DIR": str(ROOT / "flows"), "IVR_SESSION_TTL": "600"}
    port = free_port()
    with running_stack(host="127.0.0.1", port=port, workers=workers, threads=threads, with_worker=False,
                       env_overrides=env, worker_class=worker_class,
                       quiet=True, app=app_module) as stack:
        measure(stack.base_url, token, 8, 1.0, 0.0)  # warm up both workers
        return {"paced": measure(stack.base_url, token, calls, seconds, think),
                "saturated": measure(stack.base_url, token, calls, seconds, 0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=64, help="concurrent simulated calls")
    parser.add_argument("--seconds", type=float, default=15.0, help="duration of each phase")
    parser.add_argument("--think", type=float, default=0.5, help="pause between a prompt and the key (paced; +-50%% jitter)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn workers (as ivr serve)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="threads per worker (as ivr serve)")
    parser.add_argument("--worker-class", default=DEFAULT_WORKER_CLASS, help="gunicorn worker class (as ivr serve)")
    args = parser.parse_args()
    token = secrets.token_hex(16)
    os.environ.pop("REDIS_URL", None)
    print(f"{args.calls} concurrent calls, {args.seconds:.0f}s per phase, paced think time {args.think * 1000:.0f} ms, "
          f"{os.cpu_count()} CPUs, gunicorn {args.worker_class} {args.workers} workers x {args.threads} threads")
    results = {name: run_server(module, token, args.calls, args.seconds, args.think, args.workers, args.threads,
                                args.worker_class)
               for name, module in (("ivr", "wsgi:app"), ("bare", "bench.bare_app:app"))}
    print(f"{'phase':<10} {'server':<6} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for phase in ("paced", "saturated"):
        for server in ("ivr", "bare"):
            r = results[server][phase]
            print(f"{phase:<10} {server:<6} {r['requests']:>9} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} "
                  f"{r['p99_ms']:>8.2f} {r['errors']:>7}" + (f"  {r['first_error']}" if r["errors"] else ""))
        ivr, bare = results["ivr"][phase], results["bare"][phase]
        print(f"{phase:<10} ratio ivr/bare: throughput {ivr['rps'] / bare['rps']:.2f}, "
              f"p99 {ivr['p99_ms'] / bare['p99_ms']:.2f}x")


if __name__ == "__main__":
    main()
