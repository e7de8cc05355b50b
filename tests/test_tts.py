"""Prompt rendering with the real pyttsx3 and espeak-ng, and the prompt cache in a real Redis."""

from __future__ import annotations

import os
import struct
import threading

import pytest

from speech import keys
from speech.audio import rms, ulaw_to_pcm
from speech.errors import RenderTimeout, TtsError, WavError
from speech.prompts import KEY_PATTERN, PromptCache, PromptText, frames, key_for
from speech.tts import Synthesizer, espeak_voice, to_telephone
from speech.wav import HEADER_BYTES, read_ulaw_wav, ulaw_wav


@pytest.fixture(scope="module")
def synthesizer():
    with Synthesizer() as synth:
        yield synth


def test_a_rendered_prompt_is_telephone_audio_of_plausible_length(synthesizer):
    ulaw = synthesizer.render("Thank you for calling Northwind Energy.", "en-US")
    seconds = len(ulaw) / 8000
    assert 1.0 < seconds < 5.0  # six words at 165 words per minute, plus espeak-ng's pauses
    assert rms(ulaw_to_pcm(ulaw)) > 300  # speech, not silence


def test_the_wav_is_mono_8_khz_mu_law_with_its_header_written_out(synthesizer):
    ulaw = synthesizer.render("Press one for billing.", "en-US")
    wav = ulaw_wav(ulaw)
    riff, size, wave_id, fmt_id, fmt_size = struct.unpack("<4sI4s4sI", wav[:20])
    tag, channels, rate, byte_rate, align, bits, extra = struct.unpack("<HHIIHHH", wav[20:38])
    fact_id, fact_size, samples, data_id, data_size = struct.unpack("<4sII4sI", wav[38:HEADER_BYTES])
    assert (riff, wave_id, fmt_id, fact_id, data_id) == (b"RIFF", b"WAVE", b"fmt ", b"fact", b"data")
    assert (tag, channels, rate, byte_rate, align, bits, extra) == (7, 1, 8000, 8000, 1, 8, 0)
    assert fmt_size == 18 and fact_size == 4 and samples == data_size == len(ulaw)
    assert size == len(wav) - 8 and wav[HEADER_BYTES:HEADER_BYTES + len(ulaw)] == ulaw
    assert read_ulaw_wav(wav) == (8000, ulaw)


def test_a_pcm_wav_is_not_taken_for_mu_law():
    import io
    import wave
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000), w.writeframes(b"\0\0" * 80)
    with pytest.raises(WavError):
        read_ulaw_wav(buffer.getvalue())


def test_languages_pick_espeak_voices():
    assert [espeak_voice(tag) for tag in ("en-US", "en-GB", "es-US", "es-MX", "ko-KR", "pt_BR", None)] == \
        ["en-us", "en-gb", "es", "es", "ko", "pt-br", "en-us"]


def test_other_languages_sound_different_and_unknown_ones_fail(synthesizer):
    english = synthesizer.render("uno dos tres", "en-US")
    spanish = synthesizer.render("uno dos tres", "es-US")
    assert english != spanish
    with pytest.raises(TtsError, match="no voice 'xx'"):
        synthesizer.render("hello", "xx-YY")
    with pytest.raises(TtsError, match="empty"):
        synthesizer.render("   ")
    assert synthesizer.render("still working", "en-US")


def test_rate_changes_the_length(synthesizer):
    slow = synthesizer.render("Your call is important to us.", "en-US", rate=100)
    fast = synthesizer.render("Your call is important to us.", "en-US", rate=300)
    assert len(slow) > 1.3 * len(fast)
    with pytest.raises(TtsError, match="rate"):
        synthesizer.render("hello", "en-US", rate=1000)


def test_renders_from_many_threads_do_not_mix(synthesizer):
    alone = synthesizer.render("Please hold.", "en-US")
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(synthesizer.render("Please hold.", "en-US")))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # espeak-ng varies by a few samples from one render to the next; mixed renders would be twice as long
    assert len(results) == 6 and all(abs(len(r) - len(alone)) < len(alone) // 50 for r in results)


def test_a_render_that_misses_its_deadline_is_stopped_and_the_next_one_works():
    with Synthesizer(timeout=0.001) as synth:
        with pytest.raises(RenderTimeout):
            synth.render("This sentence takes longer than a millisecond to synthesize.", "en-US")
        synth.timeout = 5.0
        assert synth.render("Back again.", "en-US")


def test_a_forked_child_renders_with_its_own_synthesizer(synthesizer):
    """espeak-ng's thread does not survive fork: the child must not reuse the parent's process or lock."""
    expected = synthesizer.render("Forked.", "en-US")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            rendered = synthesizer.render("Forked.", "en-US")
            os.write(write, b"ok" if abs(len(rendered) - len(expected)) < len(expected) // 50 else
                     f"{len(rendered)} samples, not about {len(expected)}".encode())
        except BaseException as e:
            os.write(write, repr(e).encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 1000).decode() == "ok" and status == 0


def test_to_telephone_resamples_to_8_khz():
    one_second_at_22050 = b"\0\0" * 22050
    assert abs(len(to_telephone(one_second_at_22050, 22050)) - 8000) <= 1


# -- the cache -----------------------------------------------------------------------------------------------------
def test_keys_differ_by_text_voice_language_and_rate():
    base = key_for("Welcome.", "Polly.Joanna", "en-US", 165)
    assert KEY_PATTERN.match(base)
    assert base == key_for(" Welcome. ", "Polly.Joanna", "en-US", 165) == PromptCache.key_for(
        "Welcome.", "Polly.Joanna", "en-US", 165)
    others = {key_for("Welcome!", "Polly.Joanna", "en-US", 165), key_for("Welcome.", "Polly.Matthew", "en-US", 165),
              key_for("Welcome.", "Polly.Joanna", "en-GB", 165), key_for("Welcome.", "Polly.Joanna", "en-US", 180)}
    assert len(others) == 4 and base not in others


def test_cache_round_trip_and_media_stream_frames(redis, synthesizer):
    cache = PromptCache(redis)
    prompt = PromptText("Goodbye.", "Polly.Joanna", "en-US")
    assert not cache.has(prompt.key) and cache.get_wav(prompt.key) is None
    assert cache.ensure(prompt, synthesizer) is True
    assert cache.ensure(prompt, synthesizer) is False  # cached: not rendered again
    ulaw = cache.get_ulaw(prompt.key)
    assert cache.has(prompt.key) and read_ulaw_wav(cache.get_wav(prompt.key)) == (8000, ulaw)
    assert redis.ttl(keys.prompt(prompt.key)) == -1  # a published prompt is kept
    chunks = list(frames(ulaw))
    assert all(len(c) == 160 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 160 and b"".join(chunks) == ulaw
    assert cache.get_ulaw("../../etc/passwd") is None and not cache.has("KEYS *")


def test_dynamic_prompts_expire_unless_a_publish_keeps_them(redis, synthesizer):
    cache = PromptCache(redis, dynamic_ttl=60)
    prompt = PromptText("Your balance is 42 dollars.", None, "en-US")
    assert cache.ensure(prompt, synthesizer, ttl=60)
    assert 0 < redis.ttl(keys.prompt(prompt.key)) <= 60
    assert cache.ensure(prompt, synthesizer) is False  # the same words became a static prompt: kept, not re-rendered
    assert redis.ttl(keys.prompt(prompt.key)) == -1
    cache.put(prompt.key, cache.get_ulaw(prompt.key), ttl=60)  # a later dynamic use does not make it expire
    assert redis.ttl(keys.prompt(prompt.key)) == -1
    assert cache.missing([prompt, PromptText("Not yet.")]) == [PromptText("Not yet.")]
