"""Every Redis key of the routing package. All share one hash tag, ``{rt}``, so each Lua step's keys live in one
Redis Cluster slot: a routing "workspace" is one slot, and its keys are always passed in KEYS.

Agent and call attributes live in a few hashes keyed by id (not one hash per agent or call), so a script that
discovers candidates while it runs still touches only keys declared up front.
"""

PREFIX = "rt:{rt}:"

AGENTS = PREFIX + "agents"                # hash id -> JSON profile (name, skills, languages, capacity, contact)
AGENT_STATUS = PREFIX + "agent:status"    # hash id -> offline | available | busy | wrap-up | break
AGENT_SINCE = PREFIX + "agent:since"      # hash id -> ms timestamp of the last status change
AGENT_IDLE = PREFIX + "agent:idle"        # hash id -> ms timestamp since when the agent has had no call
AGENT_LOAD = PREFIX + "agent:load"        # hash id -> calls offered or assigned now
AGENT_CAPACITY = PREFIX + "agent:capacity"  # hash id -> most calls at once
AGENT_SKILLS = PREFIX + "agent:skills"    # hash "id|skill" -> level 1..10
AGENT_MISSED = PREFIX + "agent:missed"    # hash id -> offers missed in a row
AGENT_SEEN = PREFIX + "agent:seen"        # hash id -> ms when the agent's console or client last reported
AGENT_LAST_OFFER = PREFIX + "agent:last-offer"  # hash id -> ms of the last call offered (round-robin)
AGENT_WRAP_END = PREFIX + "agent:wrap-end"  # hash id -> ms when the current wrap-up ends (cleared on a change)

CALL_REQ = PREFIX + "call:req"            # hash sid -> "skill=level;skill=level"
CALL_STATE = PREFIX + "call:state"        # hash sid -> waiting | offered | assigned | ended
CALL_SCORE = PREFIX + "call:score"        # hash sid -> its place in the queue (kept when an offer fails)
CALL_QUEUE = PREFIX + "call:queue"        # hash sid -> queue name
QUEUE_STRATEGY = PREFIX + "queue:strategy"  # hash queue -> longest-idle | most-skilled | round-robin
CALL_DECLINED = PREFIX + "call:declined"  # hash sid -> ",agent,agent," who declined or missed it
CALL_AGENT = PREFIX + "call:agent"        # hash sid -> agent id once accepted
CALL_SINCE = PREFIX + "call:since"        # hash sid -> ms when it entered the queue
CALL_OFFER = PREFIX + "call:offer"        # hash sid -> reservation id while offered

QUEUE_NAMES = PREFIX + "queues"           # set of queues that have had calls (agent-side claims look there)
RESERVATIONS = PREFIX + "reservations"    # hash reservation id -> "sid|agent|expires_ms"
OFFER_EXPIRY = PREFIX + "offers"          # zset reservation id by expiry (ms)
CALLBACKS = PREFIX + "callbacks"          # zset callback id -> its place (the score of the call it replaced)
CALLBACKS_CALLING = PREFIX + "callbacks:calling"  # zset callback id -> ms when its outbound call was placed
CALLBACK = PREFIX + "callback"            # hash callback id -> JSON request (number, from, queue, context...)
SETTINGS = PREFIX + "settings"            # hash offer_timeout_ms, max_missed, wrap_up_ms of the live queues.yaml

ANY_SKILL = "*"


def available(skill: str, level: int = 1) -> str:
    """Zset of agents who may be available and have ``skill`` at ``level`` or above (``*``: any agent), scored by
    idle-since. An agent with billing at level 7 is in the billing zsets for levels 1 to 7, so a call needing
    billing 7 scans only the agents who have it, however many have billing at a lower level.

    An index, not the truth: entries can be stale and are dropped lazily by the claim scripts, which decide on
    the status, load, capacity and skills hashes."""
    if skill == ANY_SKILL:
        return f"{PREFIX}avail:{ANY_SKILL}"
    return f"{PREFIX}avail:{skill}:{int(level)}"


def waiting(queue: str) -> str:
    """Zset of calls waiting in ``queue``, scored so that higher priority, then earlier arrival, comes first."""
    return f"{PREFIX}waiting:{queue}"


def queue_stats(queue: str, day: str) -> str:
    """Hash of one queue's counters for one UTC day: entered, answered, answered_in_sl, abandoned, wait_ms."""
    return f"{PREFIX}stats:{queue}:{day}"


def agent_events(agent_id: str) -> str:
    """Stream of what happened to an agent (offers, their end, status changes), for their console."""
    return f"{PREFIX}events:{agent_id}"
