-- RENEW: extends the concurrency leases of one gateway's requests still in flight, in one call.
-- KEYS: lease sets; ARGV: 1 lease in ms, 2 now in µs (0: Redis's TIME), then the member for
-- each key. Only existing members are extended (XX), never shortened (GT): a lease settled or
-- lapsed meanwhile stays gone. Returns how many leases were extended.

local lease = tonumber(ARGV[1])
local now = clock(ARGV[2])
local expiry = now + lease * 1000
local extended = 0
for i, key in ipairs(KEYS) do
  extended = extended + redis.call('ZADD', key, 'XX', 'GT', 'CH', expiry, ARGV[2 + i])
  redis.call('PEXPIRE', key, lease + 1000)
end
return extended
