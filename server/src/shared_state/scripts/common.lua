-- Shared by every script of shared_state/admission.rs (prepended to each): the GCRA windows of a
-- scope, kept in one hash per scope as a "theoretical arrival time" in microseconds of Redis's
-- own clock, each beside the limit it was counted under (so an edited limit is rescaled here,
-- the same way on every node, as limits.rs's Gcra::rescale does in memory).
--
-- ADMIT runs on every limited request, and Lua, not Redis's commands, is most of its time
-- (BENCHMARKS.md, "Cluster arm"): these helpers work on flat arrays and on HMGET's reply as it
-- comes, build no table per scope, and write only what changed.
--
-- Numbers go to redis.call as Lua numbers: Redis writes them exactly (`%.17g` up to 6.2, the
-- shortest round trip since 7.0), so a TAT of 1.7e15 µs needs no string.format. Only Lua's own
-- tostring would round it.

local MINUTE = 60000000
local DAY = 86400000000
-- Window w: rpm, rpd, tpm, tpd. Odd windows are per minute, even ones per day; 3 and 4 count
-- tokens.
local TAT_FIELDS = {'rpm', 'rpd', 'tpm', 'tpd'}
local LIMIT_FIELDS = {'rpm:l', 'rpd:l', 'tpm:l', 'tpd:l'}

local function length_of(w)
  if w % 2 == 1 then
    return MINUTE
  end
  return DAY
end

-- Now in microseconds: Redis's clock, so gateways with skewed clocks share one timeline; tests
-- may pass their own.
local function clock(given)
  local now = tonumber(given) or 0
  if now > 0 then
    return now
  end
  local t = redis.call('TIME')
  return t[1] * 1000000 + t[2]
end

-- How far past its last TAT a windows hash is kept. The expiry is pushed out only when the last
-- TAT comes within a second of it, so a busy scope sets it about once a minute, not per request.
local SLACK = 60000000

-- A scope's windows hash as HMGET returns it: per window w, v[2w-1] its TAT and v[2w] the limit
-- it was counted under (false when unset), and v[9] the expiry last set (µs on Redis's clock).
local function read_windows(key)
  return redis.call('HMGET', key, 'rpm', 'rpm:l', 'rpd', 'rpd:l', 'tpm', 'tpm:l', 'tpd', 'tpd:l',
                    'x')
end

-- Window w's TAT as read, re-expressed under `limit` when it was counted under another: what was
-- used stays used, at the new rate.
local function current_tat(v, w, limit, now)
  local tat = tonumber(v[2 * w - 1]) or 0
  local stored = tonumber(v[2 * w]) or 0
  if limit > 0 and stored > 0 and stored ~= limit and tat > now then
    return now + math.floor((tat - now) * stored / limit)
  end
  return tat
end

-- Whether a window's stored limit differs from the one it now has (so the hash must be written
-- even when the request is refused).
local function edited(v, limits, base)
  for w = 1, 4 do
    local limit = limits[base + w]
    if limit > 0 and (tonumber(v[2 * w]) or 0) ~= limit then
      return true
    end
  end
  return false
end

-- Writes a scope's windows, their TATs at `tats[at + 1..4]` and limits at `limits[base + 1..4]`
-- (the hash as read in `v`): only a TAT or a limit that changed, for windows that have a limit,
-- and keeps the hash until SLACK after its last TAT: once that has passed every window is full
-- again and the hash says nothing.
local function save_windows(key, v, tats, at, limits, base, now)
  local fields, n = nil, 0
  local horizon = now
  for w = 1, 4 do
    local tat = tats[at + w]
    local limit = limits[base + w]
    if limit > 0 then
      if tat ~= (tonumber(v[2 * w - 1]) or 0) then
        fields = fields or {}
        fields[n + 1], fields[n + 2] = TAT_FIELDS[w], tat
        n = n + 2
      end
      if (tonumber(v[2 * w]) or 0) ~= limit then
        fields = fields or {}
        fields[n + 1], fields[n + 2] = LIMIT_FIELDS[w], limit
        n = n + 2
      end
    end
    if tat > horizon then
      horizon = tat
    end
  end
  local expires = tonumber(v[9]) or 0
  local extend = horizon + 1000000 > expires
  if extend then
    expires = horizon + SLACK
    fields = fields or {}
    fields[n + 1], fields[n + 2] = 'x', expires
    n = n + 2
  end
  if n > 0 then
    redis.call('HSET', key, unpack(fields))
  end
  if extend then
    redis.call('PEXPIRE', key, math.floor((expires - now) / 1000))
  end
end

-- A budget hash that does not exist yet starts from the seed (the spend the gateway's records
-- show for the period); a line already crossed by the seed is marked as alerted, so no settle
-- alerts for it again.
local function seed_budget(key, seed, limit, soft, expire_at)
  redis.call('HSET', key, 'committed', seed, 'spent', seed)
  if soft >= 0 and seed >= soft then
    redis.call('HSET', key, 'soft', 1)
  end
  if seed >= limit then
    redis.call('HSET', key, 'hard', 1)
  end
  if expire_at > 0 then
    redis.call('PEXPIREAT', key, expire_at)
  end
end
