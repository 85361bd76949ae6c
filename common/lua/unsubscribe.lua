-- unsubscribe.lua -- unsubscribe a session from channels; one event each.
-- ARGV: prefix, event channel, sid, ttl ms, backstop s, channel...
local prefix, evchan, sid = ARGV[1], ARGV[2], ARGV[3]
local ttl_ms, backstop = tonumber(ARGV[4]), tonumber(ARGV[5])
if not jug_touch(prefix, evchan, sid, ttl_ms, backstop, jug_now_ms()) then
  return jug_no_session()
end
local meta = jug_meta(prefix, sid)
local ckey = prefix .. 'session:' .. sid .. ':channels'
local removed = 0
for i = 6, #ARGV do
  if redis.call('SREM', ckey, ARGV[i]) == 1 then
    jug_channel_remove(prefix, ARGV[i], sid)
    redis.call('PUBLISH', evchan .. ':unsubscribe', jug_event_json(ARGV[i], sid, meta))
    removed = removed + 1
  end
end
if removed > 0 then jug_notify_holder(prefix, prefix .. 'session:' .. sid, sid, 'C', jug_now_ms()) end
return removed
