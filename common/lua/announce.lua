-- announce.lua -- after Redis lost writes (docs/PROTOCOL.md, "Server events"):
-- publish a subscribe event for every channel of the sessions one ZSCAN step
-- of <prefix>sessions returns, so that apps rebuild their rosters, and mark
-- each of those sessions with "gap": deliveries queued for it may have gone
-- with the data, so its next request tells its client that it missed an
-- unknown number (poll.lua; a request held now is told to read its session
-- again, "C", and tells it at once). (A page that connected again in the moment
-- before the poller noticed is told too: it cannot be told apart.)
-- ARGV: prefix, event channel, ZSCAN cursor ("0" to start), count hint.
-- Returns the next cursor ("0": done). A session may be announced twice
-- (ZSCAN may return an element again); apps keep rosters as sets.
local prefix, evchan, cursor, count = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local r = redis.call('ZSCAN', prefix .. 'sessions', cursor, 'COUNT', count)
local items = r[2]
local now = jug_now_ms()
for i = 1, #items, 2 do
  local sid = items[i]
  local meta = jug_meta(prefix, sid)
  local skey = prefix .. 'session:' .. sid
  -- Only an existing hash: a new one would have no backstop TTL.
  if redis.call('EXISTS', skey) == 1 then
    redis.call('HSET', skey, 'gap', '1')
    -- A request held for it reads the session again, and tells its client now.
    jug_notify_holder(prefix, skey, sid, 'C', now)
  end
  for _, ch in ipairs(redis.call('SMEMBERS', skey .. ':channels')) do
    redis.call('PUBLISH', evchan .. ':subscribe', jug_event_json(ch, sid, meta))
  end
end
return r[1]
