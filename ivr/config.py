"""Settings from the environment (12-factor). Every variable is documented in the README with its default."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

DEFAULT_ACCOUNT_SID = "AC00000000000000000000000000000000"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as e:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from e


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    """Everything configurable, read once from the environment by :meth:`from_env`."""

    redis_url: str | None = None
    twilio_account_sid: str = DEFAULT_ACCOUNT_SID
    twilio_auth_token: str = ""
    public_url: str | None = None
    flows_dir: Path = Path("flows")
    fallback_number: str | None = None
    fallback_queue: str | None = None
    session_ttl: int = 4 * 3600
    calllog_ttl: int = 30 * 86400
    api_token: str = ""
    secret_key: str = ""
    stream_slots: int = 0
    trust_proxy: int = 0
    services: dict[str, str] = field(default_factory=dict)
    twilio_api_url: str | None = None
    speech_models_dir: str | None = None
    tts_rate: int = 165
    tts_on_demand: str = "render"
    tts_dynamic_ttl: int = 86400

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        services = {
            name[len("IVR_SERVICE_"):-len("_URL")].lower(): value
            for name, value in env.items()
            if name.startswith("IVR_SERVICE_") and name.endswith("_URL") and value
        }
        tts_rate = _int(env, "IVR_TTS_RATE", 165)
        if not 80 <= tts_rate <= 450:
            raise ValueError(f"IVR_TTS_RATE must be 80..450 words per minute, not {tts_rate}")
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or DEFAULT_ACCOUNT_SID,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            public_url=(env.get("IVR_PUBLIC_URL") or "").rstrip("/") or None,
            flows_dir=Path(env.get("IVR_FLOWS_DIR") or "flows"),
            fallback_number=env.get("IVR_FALLBACK_NUMBER") or None,
            fallback_queue=env.get("IVR_FALLBACK_QUEUE") or None,
            session_ttl=_int(env, "IVR_SESSION_TTL", 4 * 3600),
            calllog_ttl=_int(env, "IVR_CALLLOG_TTL", 30 * 86400),
            api_token=env.get("IVR_API_TOKEN", ""),
            secret_key=env.get("IVR_SECRET_KEY", ""),
            stream_slots=_int(env, "IVR_STREAM_SLOTS", 0),
            trust_proxy=_int(env, "IVR_TRUST_PROXY", 0),
            services=services,
            twilio_api_url=(env.get("TWILIO_API_URL") or "").rstrip("/") or None,
            speech_models_dir=env.get("IVR_SPEECH_MODELS_DIR") or None,
            tts_rate=tts_rate,
            tts_on_demand=_choice(env, "IVR_TTS_ON_DEMAND", ("render", "queue")),
            tts_dynamic_ttl=_int(env, "IVR_TTS_DYNAMIC_TTL", 86400),
        )
