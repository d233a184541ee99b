-- Shared by every script of shared_state/admission.rs (prepended to each): the GCRA windows of a
-- scope, kept in one hash per scope as a "theoretical arrival time" in microseconds of Redis's
-- own clock, each beside the limit it was counted under (so an edited limit is rescaled here,
-- the same way on every node, as limits.rs's Gcra::rescale does in memory).

local MINUTE = 60000000
local DAY = 86400000000
local NAMES = {'rpm', 'rpd', 'tpm', 'tpd'}
local LENGTHS = {MINUTE, DAY, MINUTE, DAY}
local TOKENS = {false, false, true, true}

-- Integers as Redis stores them: Lua 5.1's tostring would write 1.7e+15.
local function int(x)
  return string.format('%d', x)
end

-- Now in microseconds: Redis's clock, so gateways with skewed clocks share one timeline; tests
-- may pass their own.
local function clock(given)
  local now = tonumber(given) or 0
  if now > 0 then
    return now
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- The microseconds of a window that `units` of `limit` per `length` cost.
local function cost(units, limit, length)
  return math.floor(units * length / limit)
end

-- How far past its last TAT a windows hash is kept. The expiry is pushed out only when the last
-- TAT comes within a second of it, so a busy scope sets it about once a minute, not per request.
local SLACK = 60000000

-- The windows' TATs (0 when unset), the limits they were counted under (0 when unknown), and the
-- expiry last set on the hash ('x', µs on Redis's clock; 0 when unknown).
local function load_windows(key)
  local v = redis.call('HMGET', key, 'rpm', 'rpm:l', 'rpd', 'rpd:l', 'tpm', 'tpm:l', 'tpd', 'tpd:l', 'x')
  local tats, stored = {}, {}
  for w = 1, 4 do
    tats[w] = tonumber(v[2 * w - 1]) or 0
    stored[w] = tonumber(v[2 * w]) or 0
  end
  return tats, stored, tonumber(v[9]) or 0
end

-- What was used under the stored limit, re-expressed under the current one.
local function rescaled(tat, stored, limit, now)
  if stored > 0 and limit > 0 and stored ~= limit and tat > now then
    return now + math.floor((tat - now) * stored / limit)
  end
  return tat
end

-- Writes what changed of the windows that have a limit (a TAT that differs from `before`, a
-- limit that differs from `stored`), and keeps the hash until SLACK after its last TAT: once
-- that has passed every window is full again and the hash says nothing.
local function save_windows(key, tats, before, limits, stored, expires, now)
  local fields = {}
  local horizon = now
  for w = 1, 4 do
    if limits[w] > 0 then
      if tats[w] ~= before[w] then
        fields[#fields + 1] = NAMES[w]
        fields[#fields + 1] = int(tats[w])
      end
      if stored[w] ~= limits[w] then
        fields[#fields + 1] = NAMES[w] .. ':l'
        fields[#fields + 1] = int(limits[w])
      end
    end
    if tats[w] > horizon then
      horizon = tats[w]
    end
  end
  local extend = horizon + 1000000 > expires
  if extend then
    expires = horizon + SLACK
    fields[#fields + 1] = 'x'
    fields[#fields + 1] = int(expires)
  end
  if #fields > 0 then
    redis.call('HSET', key, unpack(fields))
  end
  if extend then
    redis.call('PEXPIRE', key, int(math.floor((expires - now) / 1000)))
  end
end

-- What is left of a window now, and the microseconds until it is full again.
local function remaining(tat, limit, length, now)
  local ahead = math.max(tat - now, 0)
  local free = math.max(length - ahead, 0)
  return math.floor(free * limit / length), ahead
end

-- A budget hash that does not exist yet starts from the seed (the spend the gateway's records
-- show for the period); a line already crossed by the seed is marked as alerted, so no settle
-- alerts for it again.
local function seed_budget(key, seed, limit, soft, expire_at)
  redis.call('HSET', key, 'committed', int(seed), 'spent', int(seed))
  if soft >= 0 and seed >= soft then
    redis.call('HSET', key, 'soft', 1)
  end
  if seed >= limit then
    redis.call('HSET', key, 'hard', 1)
  end
  if expire_at > 0 then
    redis.call('PEXPIREAT', key, int(expire_at))
  end
end
