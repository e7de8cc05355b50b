"""Claim cost in Redis: latency and claims per second as the number of agents grows, beside a plain PING.

    .venv/bin/python bench/routing.py [--agents 100,1000,10000] [--skills 50] [--waiting 1000] [--claims 2000]

For each size: that many agents (3 random skills of 50, levels 1-10, capacity 1, all available) and ``--waiting``
calls already waiting (needing skills nobody has at that level, so they stay in line across 10 queues). Then:
*call-side claims*: new calls needing one or two common skills, each claimed by the one Lua step that takes the
call and the longest-idle qualified agent; *agent-side claims*: an agent becomes available and takes the best
call it qualifies for among the waiting ones. PING is measured on the same connection in the same run. *In Redis*
is the claim script's own run time as Redis's SLOWLOG records it (threshold 0 during the claims): what a claim
costs the server, free of the client's scheduling (on a busy machine the client-side tail is mostly waiting for a
CPU, which PING's p99 shows too).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.runner.redis import EmbeddedRedis, connect  # noqa: E402
from routing.acd import Distributor  # noqa: E402
from routing.model import Agent, AgentStatus  # noqa: E402

T0 = 1_800_000_000_000
QUEUES = [f"q{i}" for i in range(10)]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def timed(fn, count: int) -> tuple[list[float], float]:
    samples = []
    started = time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - t) * 1e6)
    return samples, time.perf_counter() - started


def populate(acd: Distributor, agents: int, skills: int, waiting: int, rng: random.Random) -> None:
    names = [f"s{i}" for i in range(skills)]
    pipe_size = 500
    for start in range(0, agents, pipe_size):
        for i in range(start, min(agents, start + pipe_size)):
            chosen = rng.sample(names, 3)
            acd.register(Agent(f"ag{i}", f"Agent {i}", {s: rng.randint(1, 10) for s in chosen}))
            acd.redis.hset("rt:{rt}:agent:status", f"ag{i}", AgentStatus.AVAILABLE.value)
            acd.redis.hset("rt:{rt}:agent:idle", f"ag{i}", T0 + i)
    # index once with the real idle times
    for i in range(agents):
        agent = acd.agent(f"ag{i}")
        acd.registry.index(agent)  # the benchmark builds the state directly
    for i in range(waiting):
        acd.enqueue(f"CW{i}", QUEUES[i % len(QUEUES)], {rng.choice(names): 1, "rare": 10},
                    priority=rng.randint(0, 5), now_ms=T0 + i, offer=False)


def run_size(url: str, agents: int, skills: int, waiting: int, claims: int) -> dict[str, float]:
    redis = connect(url)
    redis.flushdb()
    rng = random.Random(agents)
    acd = Distributor(redis, queues=QUEUES)
    populate(acd, agents, skills, waiting, rng)
    names = [f"s{i}" for i in range(skills)]

    ping, _ = timed(lambda i: redis.ping(), 2000)

    calls = []
    for i in range(claims):
        need = {rng.choice(names): rng.randint(1, 4)}
        if i % 2:
            need[rng.choice(names)] = 1
        sid = f"CN{i}"
        acd.enqueue(sid, "q0", need, now_ms=T0 + 10_000_000 + i, offer=False)
        calls.append((sid, need))
    results = []

    def claim(i: int) -> None:
        sid, needed = calls[i]
        results.append(acd.claim_for_call(sid, "q0", needed, T0 + 20_000_000 + i))

    redis.config_set("slowlog-log-slower-than", 0)
    redis.config_set("slowlog-max-len", 4 * claims + 100)
    redis.slowlog_reset()
    claim_lat, claim_elapsed = timed(claim, claims)
    in_redis = [float(e["duration"]) for e in redis.slowlog_get(4 * claims + 100)
                if e["command"].startswith(b"EVALSHA")]
    redis.config_set("slowlog-log-slower-than", 10_000)
    matched = sum(1 for r in results if r)

    # agent-side: agents already holding a call become free one by one and take the best waiting call
    fresh = [f"ag{i}" for i in range(min(agents, 500))]
    for agent_id in fresh:
        redis.hset("rt:{rt}:agent:load", agent_id, 0)
    agent_lat, _ = timed(lambda i: acd.offer_for_agent(fresh[i % len(fresh)], T0 + 30_000_000 + i), len(fresh))
    redis.close()
    return {"agents": agents, "ping_p50": percentile(ping, 0.5), "ping_p99": percentile(ping, 0.99),
            "claim_p50": percentile(claim_lat, 0.5), "claim_p99": percentile(claim_lat, 0.99),
            "claims_per_s": claims / claim_elapsed, "matched": matched / claims,
            "script_p50": percentile(in_redis, 0.5), "script_p99": percentile(in_redis, 0.99),
            "agent_p50": percentile(agent_lat, 0.5), "agent_p99": percentile(agent_lat, 0.99),
            "ping_mean": statistics.mean(ping), "claim_mean": statistics.mean(claim_lat)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="100,1000,10000")
    parser.add_argument("--skills", type=int, default=50)
    parser.add_argument("--waiting", type=int, default=1000)
    parser.add_argument("--claims", type=int, default=2000)
    args = parser.parse_args()
    sizes = [int(x) for x in args.agents.split(",")]
    with EmbeddedRedis() as server:
        rows = [run_size(server.url, n, args.skills, args.waiting, args.claims) for n in sizes]
    print(f"{args.skills} skills, {args.waiting} waiting calls, {args.claims} call-side claims per size "
          "(times in microseconds, one Python process, Redis on loopback)")
    print(f"{'agents':>7} {'PING p50':>9} {'PING p99':>9} {'claim p50':>10} {'claim p99':>10} {'claims/s':>9} "
          f"{'matched':>8} {'in Redis p50':>13} {'p99':>5} {'agent-side p50':>15} {'p99':>7} {'claim/PING':>11}")
    for r in rows:
        print(f"{r['agents']:>7} {r['ping_p50']:>9.0f} {r['ping_p99']:>9.0f} {r['claim_p50']:>10.0f} "
              f"{r['claim_p99']:>10.0f} {r['claims_per_s']:>9.0f} {r['matched']:>8.0%} {r['script_p50']:>13.0f} "
              f"{r['script_p99']:>5.0f} {r['agent_p50']:>15.0f} {r['agent_p99']:>7.0f} "
              f"{r['claim_mean'] / r['ping_mean']:>11.1f}")
    first, last = rows[0], rows[-1]
    print(f"growth {first['agents']} -> {last['agents']} agents: claim p50 x{last['claim_p50'] / first['claim_p50']:.2f}, "
          f"in Redis p50 x{last['script_p50'] / first['script_p50']:.2f}, "
          f"PING p50 x{last['ping_p50'] / first['ping_p50']:.2f}")


if __name__ == "__main__":
    main()
