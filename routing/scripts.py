"""Lua scripts: each check-then-claim step is one atomic script, every key passed in KEYS (see routing.keys)."""

# Shared prologue: the fixed keys every script receives first, in this order.
COMMON_KEYS = """
local CALL_REQ, CALL_STATE, CALL_SCORE, CALL_QUEUE, CALL_DECLINED = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local AGENT_STATUS, AGENT_LOAD, AGENT_CAPACITY, AGENT_SKILLS = KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local RESERVATIONS, OFFER_EXPIRY, AGENT_IDLE, CALL_OFFER = KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local SETTINGS = KEYS[14]
local C = 14  -- how many common keys: each script's own keys start at KEYS[C + 1]

-- A number given by the caller, else the live configuration's (routing.keys.SETTINGS), else the default.
local function setting(given, name, default)
  local value = tonumber(given)
  if value == nil then value = tonumber(redis.call('HGET', SETTINGS, name) or '') or default end
  return value
end

local function requirements(sid)
  local req = {}
  local raw = redis.call('HGET', CALL_REQ, sid) or ''
  for skill, level in string.gmatch(raw, '([^=;]+)=(%d+)') do req[#req + 1] = {skill, tonumber(level)} end
  return req
end

local function eligible(agent)
  if redis.call('HGET', AGENT_STATUS, agent) ~= 'available' then return false end
  local load = tonumber(redis.call('HGET', AGENT_LOAD, agent) or '0')
  local capacity = tonumber(redis.call('HGET', AGENT_CAPACITY, agent) or '1')
  return load < capacity
end

local function qualified(agent, req)
  for _, r in ipairs(req) do
    local level = tonumber(redis.call('HGET', AGENT_SKILLS, agent .. '|' .. r[1]) or '0')
    if level < r[2] then return false end
  end
  return true
end

local function declined(sid, agent)
  local who = redis.call('HGET', CALL_DECLINED, sid)
  return who ~= false and string.find(who, ',' .. agent .. ',', 1, true) ~= nil
end

local function reserve(sid, agent, waiting_key, rid, now, timeout)
  local expires = now + timeout
  redis.call('HINCRBY', AGENT_LOAD, agent, 1)
  redis.call('ZREM', waiting_key, sid)
  redis.call('HSET', CALL_STATE, sid, 'offered')
  redis.call('HSET', RESERVATIONS, rid, sid .. '|' .. agent .. '|' .. expires)
  redis.call('HSET', CALL_OFFER, sid, rid)
  redis.call('ZADD', OFFER_EXPIRY, expires, rid)
  return {rid, sid, agent, tostring(expires)}
end
"""

# Offer a waiting call to a qualified agent chosen by the queue's strategy: longest-idle (the first qualified in
# idle order), most-skilled (the highest total level over the required skills) or round-robin (the one offered a
# call least recently). Candidates come from the smallest availability index among the call's requirements (one
# zset per skill and minimum level, see routing.keys.available), so the scan follows the agents who could take the
# call, not all agents. It reads the index in batches and goes on until a qualified agent is found or the index
# ends: a qualified agent is never missed. Strategies that compare candidates stop comparing after ARGV[6]
# candidates once one qualifies (the best among those).
# KEYS[1..C] = COMMON_KEYS; KEYS[C+1] = the call's waiting zset; KEYS[C+2] = AGENT_LAST_OFFER;
# KEYS[C+3] = QUEUE_STRATEGY; KEYS[C+4..] = availability zsets, one per requirement (or the any-skill zset).
# ARGV[1] = call sid, ARGV[2] = now (ms), ARGV[3] = new reservation id, ARGV[4] = offer timeout (ms; '' = the
# live setting), ARGV[5] = candidates read per batch, ARGV[6] = candidates compared at most, ARGV[7] = queue name,
# ARGV[8] = 'peek' to only find the agent for a callback request (state 'callback'), reserving nothing.
# Returns {reservation id, sid, agent, expires} (peek: {'', sid, agent, '0'}) or false when no agent qualifies now.
OFFER_FOR_CALL = COMMON_KEYS + """
local sid, now, rid = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local timeout = setting(ARGV[4], 'offer_timeout_ms', 15000)
local batch, limit = tonumber(ARGV[5]), tonumber(ARGV[6])
local LAST_OFFER = KEYS[C + 2]
local strategy = redis.call('HGET', KEYS[C + 3], ARGV[7]) or 'longest-idle'
local peek = ARGV[8] == 'peek'
if redis.call('HGET', CALL_STATE, sid) ~= (peek and 'callback' or 'waiting') then return false end
local req = requirements(sid)
-- scan the smallest availability index: cost follows the few agents who could take the call, not all agents
local index, smallest = KEYS[C + 4], redis.call('ZCARD', KEYS[C + 4])
for i = C + 5, #KEYS do
  local size = redis.call('ZCARD', KEYS[i])
  if size < smallest then index, smallest = KEYS[i], size end
end
local best, best_rank = nil, nil
local start, compared = 0, 0
while best == nil or (strategy ~= 'longest-idle' and compared < limit) do
  local ids = redis.call('ZRANGE', index, start, start + batch - 1)
  if #ids == 0 then break end
  local kept = 0
  for _, agent in ipairs(ids) do
    if not eligible(agent) then
      redis.call('ZREM', index, agent)  -- stale index entry: drop it for good
    else
      kept = kept + 1
      if qualified(agent, req) and not declined(sid, agent) then
        if strategy == 'longest-idle' then
          best = agent
          break
        end
        compared = compared + 1
        local rank
        if strategy == 'most-skilled' then
          rank = 0
          for _, r in ipairs(req) do
            rank = rank - tonumber(redis.call('HGET', AGENT_SKILLS, agent .. '|' .. r[1]) or '0')
          end
        else
          rank = tonumber(redis.call('HGET', LAST_OFFER, agent) or '0')
        end
        if best_rank == nil or rank < best_rank then best, best_rank = agent, rank end
        if compared >= limit then break end
      end
    end
  end
  if best ~= nil and strategy == 'longest-idle' then break end
  start = start + kept
end
if best == nil then return false end
if peek then return {'', sid, best, '0'} end
redis.call('HSET', LAST_OFFER, best, now)
return reserve(sid, best, KEYS[C + 1], rid, now, timeout)
"""

# Offer the best waiting call this agent qualifies for: highest priority first, then longest waiting. Each queue
# is read in batches from its head until a call the agent qualifies for (or one behind the best found so far in
# another queue, or the end): a qualified call is never missed, however many calls wait in front of it that the
# agent cannot take. Whether the agent meets a requirement is worked out once per distinct requirement, so the
# cost per call passed over is one hash read (its requirement).
# KEYS[1..C] = COMMON_KEYS; KEYS[C+1..] = waiting zsets of the queues the agent may serve.
# ARGV[1] = agent id, ARGV[2] = now (ms), ARGV[3] = new reservation id, ARGV[4] = offer timeout (ms; '' = the
# live setting), ARGV[5] = calls read per batch.
OFFER_FOR_AGENT = COMMON_KEYS + """
local agent, now, rid, batch = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[5])
local timeout = setting(ARGV[4], 'offer_timeout_ms', 15000)
if not eligible(agent) then return false end
local levels = {}  -- this agent's levels, read once per skill however many calls ask for it
local verdicts = {}  -- requirement string -> whether the agent meets it
local function meets(sid)
  local raw = redis.call('HGET', CALL_REQ, sid) or ''
  local verdict = verdicts[raw]
  if verdict ~= nil then return verdict end
  verdict = true
  for skill, need in string.gmatch(raw, '([^=;]+)=(%d+)') do
    local level = levels[skill]
    if level == nil then
      level = tonumber(redis.call('HGET', AGENT_SKILLS, agent .. '|' .. skill) or '0')
      levels[skill] = level
    end
    if level < tonumber(need) then verdict = false break end
  end
  verdicts[raw] = verdict
  return verdict
end
local best_sid, best_score, best_key = nil, nil, nil
for i = C + 1, #KEYS do
  local start, done = 0, false
  while not done do
    local head = redis.call('ZRANGE', KEYS[i], start, start + batch - 1, 'WITHSCORES')
    if #head == 0 then break end
    local kept = 0
    for j = 1, #head, 2 do
      local sid, score = head[j], tonumber(head[j + 1])
      if best_score ~= nil and score >= best_score then done = true break end
      if not meets(sid) then
        kept = kept + 1  -- (a stale entry stays until an agent who meets it passes by)
      elseif redis.call('HGET', CALL_STATE, sid) ~= 'waiting' then
        redis.call('ZREM', KEYS[i], sid)
      elseif declined(sid, agent) then
        kept = kept + 1
      else
        best_sid, best_score, best_key = sid, score, KEYS[i]
        done = true
        break
      end
    end
    start = start + kept
  end
end
if best_sid == nil then return false end
return reserve(best_sid, agent, best_key, rid, now, timeout)
"""

# End an offer that was not accepted: declined by the agent, timed out, or cancelled because the caller hung up.
# KEYS[1..C] = COMMON_KEYS; KEYS[C+1] = the call's waiting zset; KEYS[C+2] = AGENT_MISSED.
# ARGV[1] = reservation id, ARGV[2] = outcome (declined | timeout | cancelled), ARGV[3] = now (ms),
# ARGV[4] = missed offers that put the agent on break (0 = never; '' = the live setting).
# The call goes back to its old place in the queue (unless cancelled). Returns {sid, agent, agent status} or
# false when the reservation no longer exists (already accepted or ended: nothing to do, twice is harmless).
RELEASE = COMMON_KEYS + """
local rid, outcome, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local max_missed = setting(ARGV[4], 'max_missed', 3)
local raw = redis.call('HGET', RESERVATIONS, rid)
if not raw then return false end
local sid, agent = string.match(raw, '^([^|]+)|([^|]+)|')
redis.call('HDEL', RESERVATIONS, rid)
redis.call('HDEL', CALL_OFFER, sid)
redis.call('ZREM', OFFER_EXPIRY, rid)
redis.call('HINCRBY', AGENT_LOAD, agent, -1)
if outcome == 'cancelled' then
  redis.call('HSET', CALL_STATE, sid, 'ended')
else
  local who = redis.call('HGET', CALL_DECLINED, sid) or ','
  redis.call('HSET', CALL_DECLINED, sid, who .. agent .. ',')
  redis.call('HSET', CALL_STATE, sid, 'waiting')
  redis.call('ZADD', KEYS[C + 1], redis.call('HGET', CALL_SCORE, sid), sid)
end
if outcome == 'timeout' then
  local missed = redis.call('HINCRBY', KEYS[C + 2], agent, 1)
  if max_missed > 0 and missed >= max_missed and redis.call('HGET', AGENT_STATUS, agent) == 'available' then
    redis.call('HSET', AGENT_STATUS, agent, 'break')
  end
end
return {sid, agent, redis.call('HGET', AGENT_STATUS, agent) or 'offline'}
"""

# Accept an offer. KEYS[1..C] = COMMON_KEYS; KEYS[C+1] = CALL_AGENT; KEYS[C+2] = AGENT_MISSED.
# ARGV[1] = reservation id, ARGV[2] = agent id (must be the one offered). Returns {sid, agent} or false.
ACCEPT = COMMON_KEYS + """
local raw = redis.call('HGET', RESERVATIONS, ARGV[1])
if not raw then return false end
local sid, agent = string.match(raw, '^([^|]+)|([^|]+)|')
if agent ~= ARGV[2] then return false end
redis.call('HDEL', RESERVATIONS, ARGV[1])
redis.call('HDEL', CALL_OFFER, sid)
redis.call('ZREM', OFFER_EXPIRY, ARGV[1])
redis.call('HSET', CALL_STATE, sid, 'assigned')
redis.call('HSET', KEYS[C + 1], sid, agent)
redis.call('HSET', KEYS[C + 2], agent, 0)
return {sid, agent}
"""

# A call an agent took has ended: free the agent's slot and restart their idle clock.
# KEYS[1..C] = COMMON_KEYS; KEYS[C+1] = CALL_AGENT. ARGV[1] = call sid, ARGV[2] = now (ms).
# Returns the agent id, or false when the call was not assigned (twice is harmless).
FINISH = COMMON_KEYS + """
if redis.call('HGET', CALL_STATE, ARGV[1]) ~= 'assigned' then return false end
local agent = redis.call('HGET', KEYS[C + 1], ARGV[1])
redis.call('HSET', CALL_STATE, ARGV[1], 'ended')
redis.call('HINCRBY', AGENT_LOAD, agent, -1)
redis.call('HSET', AGENT_IDLE, agent, ARGV[2])
return agent
"""

# The agent accepted but did not answer their phone: the call goes back to its old place, the agent is skipped
# for it. KEYS[1..C] = COMMON_KEYS; KEYS[C+1] = CALL_AGENT; KEYS[C+2] = the call's waiting zset.
# ARGV[1] = call sid. Returns the agent id, or false when the call was not assigned.
REQUEUE = COMMON_KEYS + """
local sid = ARGV[1]
if redis.call('HGET', CALL_STATE, sid) ~= 'assigned' then return false end
local agent = redis.call('HGET', KEYS[C + 1], sid)
redis.call('HDEL', KEYS[C + 1], sid)
redis.call('HINCRBY', AGENT_LOAD, agent, -1)
local who = redis.call('HGET', CALL_DECLINED, sid) or ','
redis.call('HSET', CALL_DECLINED, sid, who .. agent .. ',')
redis.call('HSET', CALL_STATE, sid, 'waiting')
redis.call('ZADD', KEYS[C + 2], redis.call('HGET', CALL_SCORE, sid), sid)
return agent
"""

# Take a callback request to place its outbound call (once, whoever runs the job), or put it back in line.
# KEYS[1] = CALL_STATE, KEYS[2] = CALLBACKS, KEYS[3] = CALLBACKS_CALLING, KEYS[4] = CALL_SCORE.
# ARGV[1] = callback id, ARGV[2] = 'take' | 'return', ARGV[3] = now (ms). Returns 1 when the state changed.
CALLBACK_STATE = """
local id, action = ARGV[1], ARGV[2]
local state = redis.call('HGET', KEYS[1], id)
if action == 'take' then
  if state ~= 'callback' then return 0 end
  redis.call('HSET', KEYS[1], id, 'calling')
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZADD', KEYS[3], ARGV[3], id)
  return 1
end
if state ~= 'calling' then return 0 end
redis.call('HSET', KEYS[1], id, 'callback')
redis.call('ZREM', KEYS[3], id)
redis.call('ZADD', KEYS[2], redis.call('HGET', KEYS[4], id), id)
return 1
"""
