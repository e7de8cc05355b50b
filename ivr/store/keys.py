"""Every Redis key of the ``ivr`` package, in one place, under the ``ivr:`` prefix.

Keys that a Lua script or transaction touches together share a hash tag (``{...}``) so they live in one slot on
Redis Cluster.
"""

PREFIX = "ivr:"


def session(call_sid: str) -> str:
    # Same hash tag as the call's log keys: a session save and its step log are written by one script.
    return f"{PREFIX}call:{{{call_sid}}}:session"


def call_summary(call_sid: str) -> str:
    return f"{PREFIX}call:{{{call_sid}}}:summary"


def call_steps(call_sid: str) -> str:
    return f"{PREFIX}call:{{{call_sid}}}:steps"


CALL_INDEX = f"{PREFIX}calls"

# Flow versions: all under one hash tag, since publishing touches them in one transaction.
FLOWS_COUNTER = f"{PREFIX}{{flows}}:next"
FLOWS_CURRENT = f"{PREFIX}{{flows}}:current"
FLOWS_HISTORY = f"{PREFIX}{{flows}}:history"


# What each flows directory held when it was last published ({absolute path: digest of its files}), so a server
# start republishes a directory only when its files changed, never undoing a publish or rollback made since.
FLOWS_DIRECTORIES = f"{PREFIX}{{flows}}:directories"


def flows_version(version: int) -> str:
    return f"{PREFIX}{{flows}}:v{version}"


# Finished calls waiting to be counted by the RQ worker, and the marker saying a counting job is queued.
FINISHED_CALLS = f"{PREFIX}finished"
COUNT_PENDING = f"{PREFIX}finished:count-pending"

# Marker saying the periodic routing rematch sweep is scheduled (one chain of jobs, whatever the workers).
REMATCH_SCHEDULED = f"{PREFIX}rematch:scheduled"

# Agent API credentials: token digest -> agent id, and agent id -> its current digest.
AGENT_TOKENS = f"{PREFIX}agent-tokens"
AGENT_TOKEN_OF = f"{PREFIX}agent-token-of"


def listen_turn(call_sid: str, seq: int) -> str:
    """A speech prompt of a call: what it listens for, and what the media stream heard."""
    return f"{PREFIX}call:{{{call_sid}}}:listen:{seq}"

# Console accounts: one hash per account and the set of usernames.
ACCOUNTS = f"{PREFIX}accounts"


def account(username: str) -> str:
    return f"{PREFIX}account:{username}"


# The key signing console session cookies when IVR_SECRET_KEY is not set (shared by every web process).
SECRET_KEY = f"{PREFIX}secret-key"


def agent_calls(agent_id: str) -> str:
    """Calls an agent accepted, scored by when (their history of the day in the console)."""
    return f"{PREFIX}agent:{agent_id}:calls"


def wallboard_samples(day: str) -> str:
    """Sorted set of one UTC day's wallboard samples (per queue: waiting, service level), scored by time (ms)."""
    return f"{PREFIX}wallboard:samples:{day}"


# Marker saying the wallboard's sampling job is scheduled (one chain of jobs, whatever the workers).
WALLBOARD_SAMPLING = f"{PREFIX}wallboard:sampling"


def sign_in_failures(kind: str, who: str) -> str:
    """Failed sign-ins counted per ``account`` (username) or per ``client`` (address), expiring with the window."""
    return f"{PREFIX}sign-in-failures:{kind}:{who[:64]}"
