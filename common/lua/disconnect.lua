-- disconnect.lua -- end a session now (the browser said goodbye).
-- ARGV: prefix, event channel, sid, ttl ms, backstop s
local prefix, evchan, sid = ARGV[1], ARGV[2], ARGV[3]
local alive = jug_touch(prefix, evchan, sid, tonumber(ARGV[4]), tonumber(ARGV[5]), jug_now_ms())
if not alive then return jug_no_session() end
return jug_end_session(prefix, evchan, sid)
