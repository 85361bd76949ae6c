-- event.lua -- publish a custom event from a session: <channel>:custom.
-- ARGV: prefix, event channel, sid, ttl ms, backstop s, data JSON
local prefix, evchan, sid = ARGV[1], ARGV[2], ARGV[3]
if not jug_touch(prefix, evchan, sid, tonumber(ARGV[4]), tonumber(ARGV[5]), jug_now_ms()) then
  return jug_no_session()
end
local meta = jug_meta(prefix, sid)
return redis.call('PUBLISH', evchan .. ':custom',
  '{"session_id":"' .. sid .. '","meta":' .. meta .. ',"data":' .. ARGV[6] .. '}')
