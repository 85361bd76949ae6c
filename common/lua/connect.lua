-- connect.lua -- create a session and optionally subscribe it.
-- ARGV: prefix, event channel, sid, meta JSON, backstop s, max channels,
--       max held (0: not counted), reserve (as poll.lua's), channel...
-- Reply: {channels added, full, sessions, connects, live}: where hold slots are
-- counted, full = 1 when none is free now (the session's first poll would
-- be refused; the worker tells the client to wait instead, as long as a
-- refused poll would), and the load that wait is derived from: the live
-- sessions, the sessions opened this second and the last
-- (jug_recent_connects, which counts this one) and the worker processes
-- counted alive (0 where they are not counted).
local prefix, evchan, sid, meta = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local backstop, max_channels = tonumber(ARGV[5]), tonumber(ARGV[6])
local max_held, reserve = tonumber(ARGV[7]), tonumber(ARGV[8])
local now = jug_now_ms()
local skey = prefix .. 'session:' .. sid
redis.call('HSET', skey, 'meta', meta, 'created', now)
redis.call('EXPIRE', skey, backstop)
redis.call('ZADD', prefix .. 'sessions', now, sid)
local added = jug_subscribe(prefix, evchan, sid, meta, backstop, max_channels, ARGV, 9)
if type(added) == 'table' then return added end   -- an error reply
if max_held == 0 then return {added, 0} end
local connects = jug_recent_connects(prefix, now, true)
local free, live = jug_slot_free(prefix, now, max_held, reserve, nil)
return {added, free and 0 or 1, redis.call('ZCARD', prefix .. 'sessions'), connects, live}
