-- meta.lua -- replace a session's meta (seen in its later server events).
-- ARGV: prefix, event channel, sid, ttl ms, backstop s, meta JSON
local prefix, evchan, sid = ARGV[1], ARGV[2], ARGV[3]
local alive = jug_touch(prefix, evchan, sid, tonumber(ARGV[4]), tonumber(ARGV[5]), jug_now_ms())
if not alive then return jug_no_session() end
redis.call('HSET', prefix .. 'session:' .. sid, 'meta', ARGV[6])
return 1
