"""Prompt rendering cost with the real pyttsx3 and espeak-ng, and the cache's read cost on a real Redis.

    .venv/bin/python bench/prompts.py [--rounds 5]

Prints, in one run:
- starting a synthesizer child (Python, pyttsx3, espeak-ng) for a voice: what the first render of a process pays;
- warm render time per prompt (p50 / p95 / max) for short menu sentences and for a long announcement, and the
  audio seconds produced per second of rendering;
- the on-demand path of a webhook: key, cache miss, render and store of a dynamic sentence (an amount);
- a cache hit (``has``) and reading a whole WAV back from Redis.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.runner.redis import EmbeddedRedis, connect  # noqa: E402
from speech.prompts import PromptCache, PromptText  # noqa: E402
from speech.tts import DEFAULT_RATE, RENDERER_VERSION, Synthesizer  # noqa: E402

SHORT = ["Thank you for calling Northwind Energy.", "For billing, press 1.", "To report an outage, press 2.",
         "Please hold.", "Sorry, I did not hear you.", "Goodbye."]
LONG = ("Our customer service team is available Monday to Friday from eight in the morning to eight in the "
        "evening, and on Saturday from nine to one. You can also pay your bill online at any time.")


def ms(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"p50 {1000 * statistics.median(ordered):6.1f} ms  p95 {1000 * p95:6.1f} ms  "
            f"max {1000 * ordered[-1]:6.1f} ms")


def line(label: str, figures: str) -> None:
    print(f"{label:<44} {figures}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"{RENDERER_VERSION}, rate {DEFAULT_RATE} wpm, {os.cpu_count()} CPUs, {args.rounds} rounds")

    starts = []
    for _ in range(args.rounds):
        with Synthesizer() as synth:
            began = time.perf_counter()
            synth.render("Hello.", "en-US")
            starts.append(time.perf_counter() - began)
    line("first render of a process (starts the child)", ms(starts))

    with Synthesizer() as synth:
        synth.render("Warm up.", "en-US")
        short, audio = [], 0.0
        for _ in range(args.rounds):
            for text in SHORT:
                began = time.perf_counter()
                audio += len(synth.render(text, "en-US")) / 8000
                short.append(time.perf_counter() - began)
        line(f"short prompt ({len(short)} renders)", f"{ms(short)}  {audio / sum(short):.0f} audio s per render s")
        long_times, long_audio = [], 0.0
        for _ in range(args.rounds):
            began = time.perf_counter()
            long_audio = len(synth.render(LONG, "en-US")) / 8000
            long_times.append(time.perf_counter() - began)
        line(f"long announcement ({long_audio:.1f} s of audio)", ms(long_times))

        with EmbeddedRedis() as server:
            cache = PromptCache(connect(server.url))
            demand, hits, reads = [], [], []
            for i in range(10 * args.rounds):
                prompt = PromptText(f"Your balance is {100 + i} dollars and {i % 100} cents.", "Polly.Joanna",
                                    "en-US")
                began = time.perf_counter()
                if not cache.has(prompt.key):
                    cache.ensure(prompt, synth, ttl=3600)
                demand.append(time.perf_counter() - began)
                began = time.perf_counter()
                cache.has(prompt.key)
                hits.append(time.perf_counter() - began)
                began = time.perf_counter()
                cache.get_wav(prompt.key)
                reads.append(time.perf_counter() - began)
            line(f"on demand: miss, render, store ({len(demand)})", ms(demand))
            line("cache hit (has)", ms(hits))
            line("read a WAV from Redis", ms(reads))


if __name__ == "__main__":
    main()
