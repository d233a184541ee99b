-- ADMIT: one request against every scope (key, consumer, route) and budget, all or nothing.
-- KEYS: per scope i, KEYS[2i-1] its windows (hash) and KEYS[2i] its concurrency leases (sorted
--       set, member = request, score = expiry in µs); then one hash per budget period; then the
--       response-cache entries the request's first attempt may be answered from, read only when
--       it is admitted (so a cached and limited request costs one round trip, not two).
-- ARGV: 1 scopes, 2 budgets, 3 tokens to reserve, 4 the request's lease member, 5 lease in ms,
--       6 now in µs (0: Redis's TIME); then per scope 5: rpm, rpd, tpm, tpd, max_concurrent
--       (0 = unset); then per budget 5: limit, worst case, expire at (ms, 0 = never), seed,
--       soft limit (-1 = none). Money in micro-dollars.
-- Returns {verdict, index, what, retry_us, then per scope 4 × (remaining, reset_us), -1 unset,
-- then, when admitted, each cache entry's value (nil when absent)}: verdict 0 admitted; 1 scope
-- `index` refused by window `what` (1..4) or concurrency (5); 2 budget `index` refused. The
-- remaining values are after the admission, or as they stand when refused.

local n_scopes = tonumber(ARGV[1])
local n_budgets = tonumber(ARGV[2])
local tokens = tonumber(ARGV[3])
local member = ARGV[4]
local lease = tonumber(ARGV[5])
local now = clock(ARGV[6])

local verdict, index, what, retry = 0, 0, 0, 0
local scopes = {}
for i = 1, n_scopes do
  local at = 6 + (i - 1) * 5
  local limits = {}
  local windowed = false
  for w = 1, 4 do
    limits[w] = tonumber(ARGV[at + w])
    windowed = windowed or limits[w] > 0
  end
  local max = tonumber(ARGV[at + 5])
  local scope = {limits = limits, taken = {}, edited = false}
  scopes[i] = scope
  -- A scope with only a concurrency cap has no windows to read or write.
  if windowed then
    local tats, stored, expires = load_windows(KEYS[2 * i - 1])
    local before = {}
    for w = 1, 4 do
      before[w] = tats[w]
      tats[w] = rescaled(tats[w], stored[w], limits[w], now)
      scope.edited = scope.edited or (limits[w] > 0 and stored[w] ~= limits[w])
    end
    scope.tats, scope.before, scope.stored, scope.expires = tats, before, stored, expires
  end
  if verdict == 0 and max > 0 then
    local slots = KEYS[2 * i]
    local held = redis.call('ZCARD', slots)
    if held >= max then
      -- Leases of requests that ended without a word (a killed gateway) lapse here; below the
      -- cap they are left to the next time it is reached.
      redis.call('ZREMRANGEBYSCORE', slots, '-inf', int(now))
      held = redis.call('ZCARD', slots)
    end
    if held >= max then
      verdict, index, what, retry = 1, i, 5, 1000000
    end
    scope.slot = true
  end
  if verdict == 0 and windowed then
    for w = 1, 4 do
      local limit = limits[w]
      if limit > 0 then
        local units = 1
        if TOKENS[w] then
          units = math.min(tokens, limit)
        end
        if units > 0 then
          local next_tat = math.max(scope.tats[w], now) + cost(units, limit, LENGTHS[w])
          local ahead = next_tat - now
          if ahead > LENGTHS[w] then
            verdict, index, what, retry = 1, i, w, ahead - LENGTHS[w]
            break
          end
          scope.taken[w] = next_tat
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
    local limit, worst = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
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
    budgets[j] = {key = key, fresh = fresh, worst = worst, limit = limit,
                  expire_at = tonumber(ARGV[at + 3]), seed = committed,
                  soft = tonumber(ARGV[at + 5])}
  end
end

if verdict == 0 then
  for i = 1, n_scopes do
    local scope = scopes[i]
    if scope.tats then
      for w, tat in pairs(scope.taken) do
        scope.tats[w] = tat
      end
      save_windows(KEYS[2 * i - 1], scope.tats, scope.before, scope.limits, scope.stored,
                   scope.expires, now)
    end
    if scope.slot then
      redis.call('ZADD', KEYS[2 * i], int(now + lease * 1000), member)
      redis.call('PEXPIRE', KEYS[2 * i], int(lease + 1000))
    end
  end
  for _, b in ipairs(budgets) do
    if b.fresh then
      seed_budget(b.key, b.seed, b.limit, b.soft, b.expire_at)
    end
    redis.call('HINCRBY', b.key, 'committed', int(b.worst))
  end
end

-- A refusal takes nothing, but an edited limit is rescaled for good: counted again under the
-- stored (old) limit later, what was used would drain at the old rate.
if verdict ~= 0 then
  for i = 1, n_scopes do
    local scope = scopes[i]
    if scope.edited then
      save_windows(KEYS[2 * i - 1], scope.tats, scope.before, scope.limits, scope.stored,
                   scope.expires, now)
    end
  end
end

local reply = {verdict, index, what, retry}
for i = 1, n_scopes do
  local scope = scopes[i]
  for w = 1, 4 do
    if scope.limits[w] > 0 then
      local left, reset = remaining(scope.tats[w], scope.limits[w], LENGTHS[w], now)
      reply[#reply + 1] = left
      reply[#reply + 1] = reset
    else
      reply[#reply + 1] = -1
      reply[#reply + 1] = -1
    end
  end
end
if verdict == 0 then
  -- A missing entry is `false` here, which Redis answers as nil: the table keeps its length.
  for k = 2 * n_scopes + n_budgets + 1, #KEYS do
    reply[#reply + 1] = redis.call('GET', KEYS[k])
  end
end
return reply
