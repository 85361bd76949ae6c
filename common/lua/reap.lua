-- reap.lua -- end sessions that made no request for ttl ms (browser gone).
-- ARGV: prefix, event channel, ttl ms, limit. Returns how many it ended.
local prefix, evchan = ARGV[1], ARGV[2]
local ttl_ms, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local lapsed = redis.call('ZRANGEBYSCORE', prefix .. 'sessions', '-inf',
                          '(' .. (jug_now_ms() - ttl_ms), 'LIMIT', 0, limit)
for _, sid in ipairs(lapsed) do jug_end_session(prefix, evchan, sid) end
return #lapsed
