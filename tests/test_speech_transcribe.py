"""WAV decoding (Twilio's PCM recordings, mu-law and others) and whole-recording transcription with the real
Korean model's full vocabulary."""

from __future__ import annotations

import array
import subprocess
import wave

import pytest

from speech.audio import Resampler, decode_wav, pcm_to_ulaw, ulaw_to_pcm
from speech.errors import WavError
from speech.models import ModelRegistry
from speech.transcribe import transcribe
from speech.wav import pcm_wav


def riff(fmt_tag: int, channels: int, rate: int, bits: int, data: bytes, *, extensible: bool = False) -> bytes:
    """A WAV file built by hand (the standard library writes linear PCM only)."""
    block = channels * bits // 8
    fmt = (fmt_tag if not extensible else 0xFFFE).to_bytes(2, "little") + channels.to_bytes(2, "little") + \
        rate.to_bytes(4, "little") + (rate * block).to_bytes(4, "little") + block.to_bytes(2, "little") + \
        bits.to_bytes(2, "little")
    if extensible:
        fmt += (22).to_bytes(2, "little") + bits.to_bytes(2, "little") + (0).to_bytes(4, "little") + \
            fmt_tag.to_bytes(2, "little") + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    chunks = b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"LIST" + (4).to_bytes(4, "little") + b"INFO" + \
        b"data" + len(data).to_bytes(4, "little") + data
    return b"RIFF" + (4 + len(chunks)).to_bytes(4, "little") + b"WAVE" + chunks


def tone(samples: int = 800) -> bytes:
    return array.array("h", [(i * 397) % 20000 - 10000 for i in range(samples)]).tobytes()


def test_twilio_pcm_wav_decodes_as_is():
    pcm = tone()
    decoded = decode_wav(pcm_wav(pcm, 8000))
    assert (decoded.pcm, decoded.rate) == (pcm, 8000)


@pytest.mark.parametrize("extensible", [False, True])
def test_mulaw_wav_decodes_to_linear_pcm(extensible):
    ulaw = pcm_to_ulaw(tone())
    decoded = decode_wav(riff(7, 1, 8000, 8, ulaw, extensible=extensible))
    assert (decoded.pcm, decoded.rate) == (ulaw_to_pcm(ulaw), 8000)


def test_stereo_keeps_the_first_channel_and_8_bit_is_unsigned():
    left, right = tone(100), bytes(200)
    interleaved = b"".join(left[i:i + 2] + right[i:i + 2] for i in range(0, 200, 2))
    assert decode_wav(riff(1, 2, 16000, 16, interleaved)).pcm == left
    assert decode_wav(riff(1, 1, 11025, 8, bytes([128, 255, 0]))).pcm == array.array("h", [0, 127 << 8, -128 << 8]).tobytes()


@pytest.mark.parametrize("data", [b"", b"RIFF\x00\x00\x00\x00WAVE", b"ID3 not a wav at all",
                                  riff(85, 1, 8000, 0, b"\x00" * 10)])
def test_what_is_not_a_decodable_wav_says_so(data):
    with pytest.raises(WavError):
        decode_wav(data)


def test_a_korean_recording_is_transcribed_with_the_full_vocabulary(tmp_path):
    subprocess.run(["espeak-ng", "-v", "ko", "-s", "150", "-w", str(tmp_path / "speech.wav"), "오늘"], check=True)
    with wave.open(str(tmp_path / "speech.wav")) as wav:
        pcm = Resampler(wav.getframerate(), 8000).convert(wav.readframes(wav.getnframes()))
    recording = decode_wav(riff(7, 1, 8000, 8, pcm_to_ulaw(pcm)))  # a mu-law recording of a phone call
    transcript = transcribe(ModelRegistry().get("ko"), recording.pcm, recording.rate)
    assert "오늘" in transcript.text.split() and 0 < transcript.confidence <= 1
    assert abs(transcript.audio_ms - 1000 * len(pcm) / 16000) < 1
    silent = transcribe(ModelRegistry().get("ko"), bytes(16000), 8000)
    assert (silent.text, silent.confidence, silent.audio_ms) == ("", None, 1000)
