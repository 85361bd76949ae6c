-- announce.lua -- after Redis lost writes (docs/PROTOCOL.md, "Server events"):
-- publish a subscribe event for every channel of the sessions one ZSCAN step
-- of <prefix>sessions returns, so that apps rebuild their rosters.
-- ARGV: prefix, event channel, ZSCAN cursor ("0" to start), count hint.
-- Returns the next cursor ("0": done). A session may be announced twice
-- (ZSCAN may return an element again); apps keep rosters as sets.
local prefix, evchan, cursor, count = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local r = redis.call('ZSCAN', prefix .. 'sessions', cursor, 'COUNT', count)
local items = r[2]
for i = 1, #items, 2 do
  local sid = items[i]
  local meta = jug_meta(prefix, sid)
  for _, ch in ipairs(redis.call('SMEMBERS', prefix .. 'session:' .. sid .. ':channels')) do
    redis.call('PUBLISH', evchan .. ':subscribe', jug_event_json(ch, sid, meta))
  end
end
return r[1]
