-- subscribe.lua -- subscribe a session to channels; one subscribe event each.
-- ARGV: prefix, event channel, sid, ttl ms, backstop s, max channels, channel...
local prefix, evchan, sid = ARGV[1], ARGV[2], ARGV[3]
local ttl_ms, backstop, max_channels = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if not jug_touch(prefix, evchan, sid, ttl_ms, backstop, jug_now_ms()) then
  return jug_no_session()
end
local meta = jug_meta(prefix, sid)
return jug_subscribe(prefix, evchan, sid, meta, backstop, max_channels, ARGV, 7)
