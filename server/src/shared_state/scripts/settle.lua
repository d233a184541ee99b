-- SETTLE: a finished request gives back (or is charged) the difference between its token
-- reservation and its real usage, gives up its concurrency lease, and replaces its budget
-- reservations with the real cost. Also adds spend counted while Redis was unreachable
-- (reserved 0). Either part may be empty.
-- KEYS: per scope i, KEYS[2i-1] its windows and KEYS[2i] its leases; then one hash per budget.
-- ARGV: 1 scopes, 2 budgets, 3 lease member, 4 reserved tokens, 5 used tokens, 6 now in µs
--       (0: Redis's TIME); then per scope 3: tpm, tpd (0 = unset), 1 when it holds a lease;
--       then per budget 6: reserved, actual cost, limit, soft limit (-1 = none), expire at (ms,
--       0 = never), seed (the spend to start from when the hash is gone).
-- Returns per budget {spent, soft crossed now (0/1), limit reached now (0/1)}: exactly one
-- settle in the cluster sees each line crossed, so each alert fires once.

local n_scopes = tonumber(ARGV[1])
local n_budgets = tonumber(ARGV[2])
local member = ARGV[3]
local reserved = tonumber(ARGV[4])
local used = tonumber(ARGV[5])
local now = clock(ARGV[6])

for i = 1, n_scopes do
  local at = 6 + (i - 1) * 3
  local limits = {0, 0, tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])}
  if limits[3] > 0 or limits[4] > 0 then
    local tats, stored, expires = load_windows(KEYS[2 * i - 1])
    local before = {tats[1], tats[2], tats[3], tats[4]}
    for w = 3, 4 do
      local limit = limits[w]
      if limit > 0 then
        local tat = rescaled(tats[w], stored[w], limit, now)
        local held = math.min(reserved, limit)
        if used < held then
          tat = math.max(tat - cost(held - used, limit, LENGTHS[w]), 0)
        elseif used > held then
          -- Used beyond the reservation is charged even past the limit: it was used.
          tat = math.max(tat, now) + cost(used - held, limit, LENGTHS[w])
        end
        tats[w] = tat
      end
    end
    save_windows(KEYS[2 * i - 1], tats, before, limits, stored, expires, now)
  end
  if tonumber(ARGV[at + 3]) == 1 then
    redis.call('ZREM', KEYS[2 * i], member)
  end
end

local reply = {}
for j = 1, n_budgets do
  local at = 6 + n_scopes * 3 + (j - 1) * 6
  local key = KEYS[2 * n_scopes + j]
  local held, actual = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local limit, soft = tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
  local spent, soft_now, hard_now = 0, 0, 0
  if redis.call('EXISTS', key) == 0 then
    -- Redis lost the period (restarted empty, or it expired): start again from the seed,
    -- which already counts this cost.
    local seed = tonumber(ARGV[at + 6])
    seed_budget(key, seed, limit, soft, tonumber(ARGV[at + 5]))
    spent = seed
  else
    redis.call('HINCRBY', key, 'committed', int(actual - held))
    spent = redis.call('HINCRBY', key, 'spent', int(actual))
    if soft >= 0 and spent >= soft then
      soft_now = redis.call('HSETNX', key, 'soft', 1)
    end
    if spent >= limit then
      hard_now = redis.call('HSETNX', key, 'hard', 1)
    end
  end
  reply[#reply + 1] = spent
  reply[#reply + 1] = soft_now
  reply[#reply + 1] = hard_now
end
return reply
