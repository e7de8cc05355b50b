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


def stats_keys(day: str) -> tuple[str, str]:
    """One UTC day's call statistics (a hash of counters) and the set of call SIDs already counted in it."""
    # Hash tag keeps a day's two keys in one Redis Cluster slot (the counting script touches both).
    return f"{PREFIX}stats:{{{day}}}", f"{PREFIX}stats:{{{day}}}:counted"


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


# -- try a flow: in the sandbox database only (see ivr.store.tries); a try's keys share the hash tag of its id --
TRY_PREFIX = f"{PREFIX}try:"
#: Held from a try's publish to its first webhook, so the call is pinned to the version it published.
TRY_PUBLISH_LOCK = f"{TRY_PREFIX}publish-lock"


def try_meta(try_id: str) -> str:
    """A try's settings and state (hash)."""
    return f"{TRY_PREFIX}{{{try_id}}}:meta"


def try_events(try_id: str) -> str:
    """What happened in a try, for the browser (list, read with a cursor)."""
    return f"{TRY_PREFIX}{{{try_id}}}:events"


def try_input(try_id: str) -> str:
    """The caller's inputs waiting for the try's thread (list)."""
    return f"{TRY_PREFIX}{{{try_id}}}:input"


def try_channel(try_id: str) -> str:
    """Pub/sub channel announcing a try's new events to long-polling readers."""
    return f"{TRY_PREFIX}{{{try_id}}}:new-events"


def try_alive(try_id: str) -> str:
    """The try's heartbeat: exists while its thread runs."""
    return f"{TRY_PREFIX}{{{try_id}}}:alive"


def try_owner(owner: str) -> str:
    """A supervisor's running tries (sorted set, scored by when each expires)."""
    return f"{TRY_PREFIX}owner:{owner}"
