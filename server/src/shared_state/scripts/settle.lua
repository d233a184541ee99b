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

-- One scope's four windows: settling touches only the token ones (3 and 4).
local limits, tats = {0, 0, 0, 0}, {}
for i = 1, n_scopes do
  local at = 6 + (i - 1) * 3
  limits[3], limits[4] = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  if limits[3] > 0 or limits[4] > 0 then
    local v = read_windows(KEYS[2 * i - 1])
    for w = 1, 4 do
      local limit = limits[w]
      local tat = current_tat(v, w, limit, now)
      if limit > 0 then
        local held = math.min(reserved, limit)
        if used < held then
          tat = math.max(tat - math.floor((held - used) * length_of(w) / limit), 0)
        elseif used > held then
          -- Used beyond the reservation is charged even past the limit: it was used.
          tat = math.max(tat, now) + math.floor((used - held) * length_of(w) / limit)
        end
      end
      tats[w] = tat
    end
    save_windows(KEYS[2 * i - 1], v, tats, 0, limits, 0, now)
  end
  if ARGV[at + 3] == '1' then
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
    redis.call('HINCRBY', key, 'committed', actual - held)
    spent = redis.call('HINCRBY', key, 'spent', actual)
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
