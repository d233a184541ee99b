-- ADMIT: one request against every scope (key, consumer, route) and budget, all or nothing.
-- KEYS: per scope i, KEYS[2i-1] its windows (hash) and KEYS[2i] its concurrency leases (sorted
--       set, member = request, score = expiry in µs); then one hash per budget period; then the
--       response-cache entries the request's first attempt may be answered from, read only when
--       it is admitted (so a cached and limited request costs one round trip, not two).
-- ARGV: 1 scopes, 2 budgets, 3 tokens to reserve, 4 the request's lease member, 5 lease in ms,
--       6 now in µs (0: Redis's TIME); then per scope 5: rpm, rpd, tpm, tpd, max_concurrent
--       (0 = unset); then per budget 5: limit, worst case, expire at (ms, 0 = never), seed,
--       soft limit (-1 = none). Money in micro-dollars.
-- Returns {verdict, index, what, retry_us, now_us, then per scope its four windows' TATs (µs,
-- as they stand after the admission, or before it when refused), then, when admitted, each cache
-- entry's value (nil when absent)}: verdict 0 admitted; 1 scope `index` refused by window `what`
-- (1..4) or concurrency (5); 2 budget `index` refused. The gateway turns the TATs into the
-- rate-limit headers, which Lua would compute slower.

local n_scopes = tonumber(ARGV[1])
local n_budgets = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local now = clock(ARGV[6])

local verdict, index, what, retry = 0, 0, 0, 0
-- Flat over the scopes' windows, at 4(i-1) + w: the limit (0 = none) and the TAT, which the
-- reply carries too (from its sixth value on).
local limits, reply = {}, {0, 0, 0, 0, now}
-- Per scope: the windows hash as read (nil: no window has a limit). The TATs the GCRA check
-- would set wait in `taken` (same places as `limits`) until every scope and budget has passed.
local read, taken = {}, nil
for i = 1, n_scopes do
  local at = 1 + 5 * i
  local base = 4 * (i - 1)
  local windowed = false
  for w = 1, 4 do
    local limit = tonumber(ARGV[at + w])
    limits[base + w] = limit
    windowed = windowed or limit > 0
  end
  -- A scope with only a concurrency cap has no windows to read or write.
  if windowed then
    local v = read_windows(KEYS[2 * i - 1])
    read[i] = v
    for w = 1, 4 do
      reply[5 + base + w] = current_tat(v, w, limits[base + w], now)
    end
  else
    for w = 1, 4 do
      reply[5 + base + w] = 0
    end
  end
  local max = tonumber(ARGV[at + 5])
  if verdict == 0 and max > 0 then
    local slots = KEYS[2 * i]
    local held = redis.call('ZCARD', slots)
    if held >= max then
      -- Leases of requests that ended without a word (a killed gateway) lapse here; below the
      -- cap they are left to the next time it is reached.
      redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
      held = redis.call('ZCARD', slots)
    end
    if held >= max then
      verdict, index, what, retry = 1, i, 5, 1000000
    end
  end
  if verdict == 0 and windowed then
    for w = 1, 4 do
      local limit = limits[base + w]
      if limit > 0 then
        local units = 1
        if w > 2 then
          units = math.min(tokens, limit)
        end
        if units > 0 then
          local length = length_of(w)
          local tat = reply[5 + base + w]
          if tat < now then
            tat = now
          end
          local next_tat = tat + math.floor(units * length / limit)
          local ahead = next_tat - now
          if ahead > length then
            verdict, index, what, retry = 1, i, w, ahead - length
            break
          end
          taken = taken or {}
          taken[base + w] = next_tat
        end
      end
    end
  end
end

local budgets = {}
if verdict == 0 then
  for j = 1, n_budgets do
    local at = 6 + n_scopes * 5 + (j - 1) * 5
    local key = KEYS[2 * n_scopes + j]
    local limit = tonumber(ARGV[at + 1])
    local committed = tonumber(redis.call('HGET', key, 'committed'))
    local fresh = committed == nil
    if fresh then
      committed = tonumber(ARGV[at + 4])
    end
    -- Admitted while committed (spent + reserved) is under the limit: concurrent requests
    -- overspend by at most the one admitted last.
    if committed >= limit then
      verdict, index, what, retry = 2, j, 0, 0
      break
    end
    budgets[j] = fresh
  end
end

if verdict == 0 then
  if taken then
    for k, tat in pairs(taken) do
      reply[5 + k] = tat
    end
  end
  local lease = tonumber(ARGV[5])
  for i = 1, n_scopes do
    local v = read[i]
    if v then
      save_windows(KEYS[2 * i - 1], v, reply, 5 + 4 * (i - 1), limits, 4 * (i - 1), now)
    end
    if tonumber(ARGV[6 + 5 * i]) > 0 then
      redis.call('ZADD', KEYS[2 * i], now + lease * 1000, ARGV[4])
      redis.call('PEXPIRE', KEYS[2 * i], lease + 1000)
    end
  end
  for j = 1, n_budgets do
    local at = 6 + n_scopes * 5 + (j - 1) * 5
    local key = KEYS[2 * n_scopes + j]
    if budgets[j] then
      seed_budget(key, tonumber(ARGV[at + 4]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 5]),
                  tonumber(ARGV[at + 3]))
    end
    redis.call('HINCRBY', key, 'committed', tonumber(ARGV[at + 2]))
  end
else
  -- A refusal takes nothing, but an edited limit is rescaled for good: counted again under the
  -- stored (old) limit later, what was used would drain at the old rate.
  for i = 1, n_scopes do
    local v = read[i]
    if v and edited(v, limits, 4 * (i - 1)) then
      save_windows(KEYS[2 * i - 1], v, reply, 5 + 4 * (i - 1), limits, 4 * (i - 1), now)
    end
  end
end

reply[1], reply[2], reply[3], reply[4] = verdict, index, what, retry
if verdict == 0 then
  -- A missing entry is `false` here, which Redis answers as nil: the table keeps its length.
  local n = #reply
  for k = 2 * n_scopes + n_budgets + 1, #KEYS do
    n = n + 1
    reply[n] = redis.call('GET', KEYS[k])
  end
end
return reply
