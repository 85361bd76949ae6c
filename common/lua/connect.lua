-- connect.lua -- create a session and optionally subscribe it.
-- ARGV: prefix, event channel, sid, meta JSON, backstop s, max channels, channel...
local prefix, evchan, sid, meta = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local backstop, max_channels = tonumber(ARGV[5]), tonumber(ARGV[6])
local now = jug_now_ms()
local skey = prefix .. 'session:' .. sid
redis.call('HSET', skey, 'meta', meta, 'created', now)
redis.call('EXPIRE', skey, backstop)
redis.call('ZADD', prefix .. 'sessions', now, sid)
return jug_subscribe(prefix, evchan, sid, meta, backstop, max_channels, ARGV, 7)
