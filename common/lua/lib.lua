-- lib.lua -- helpers shared by every script. build-aux/lua2c.sh puts this
-- text in front of each script, so there is one copy of the session rules.
--
-- Conventions: ARGV[1] is the key prefix; session ids and channel names are
-- validated in C before they get here; "meta" is stored as JSON text.

-- Redis < 7 needs effects replication for TIME before writes; Redis 7 always does it.
if redis.replicate_commands then redis.replicate_commands() end

-- Milliseconds on the Redis clock, the one clock all workers and pollers share.
local function jug_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Deliveries start with {"id":<n>, so no JSON parser is needed to order them.
local function jug_delivery_id(item)
  return tonumber(string.match(item, '^{"id":(%d+)')) or 0
end

-- The request of a session a worker process holds open, if it is still held:
-- the "holder" field is "<instance>.<n> <until ms>" (docs/PROTOCOL.md, 4).
-- Returns its token and instance, or nil.
local function jug_live_holder(skey, now)
  local holder = redis.call('HGET', skey, 'holder')
  if not holder then return nil end
  local token, instance, untl = string.match(holder, '^((.-)%.%d+) (%d+)$')
  if not token or tonumber(untl) < now then return nil end
  return token, instance
end

-- Tell the worker process holding a request of sid (if any) about it:
-- "S <sid> <token>" superseded, "C <sid>" channels changed, "E <sid>" ended.
-- Nothing if the holder is the request `mine` itself. Returns the token told.
local function jug_notify_holder(prefix, skey, sid, what, now, mine)
  local token, instance = jug_live_holder(skey, now)
  if not token or token == mine then return nil end
  local line = what .. ' ' .. sid
  if what == 'S' then line = line .. ' ' .. token end
  redis.call('PUBLISH', prefix .. 'notify:' .. instance, line)
  return token
end

local function jug_event_json(channel, sid, meta)
  return '{"channel":' .. cjson.encode(channel) .. ',"session_id":"' .. sid ..
         '","meta":' .. meta .. '}'
end

-- Channel membership, always through these two, so that the counters of
-- hash <prefix>stats (read by the status endpoint instead of scanning) stay
-- exact: "subscriptions" counts session-channel pairs, "channels" the
-- channels with at least one subscriber. Each returns 1 if it changed a set.
local function jug_channel_add(prefix, ch, sid)
  local key = prefix .. 'channel:' .. ch
  if redis.call('SADD', key, sid) == 0 then return 0 end
  redis.call('HINCRBY', prefix .. 'stats', 'subscriptions', 1)
  if redis.call('SCARD', key) == 1 then redis.call('HINCRBY', prefix .. 'stats', 'channels', 1) end
  return 1
end

local function jug_channel_remove(prefix, ch, sid)
  local key = prefix .. 'channel:' .. ch
  if redis.call('SREM', key, sid) == 0 then return 0 end
  redis.call('HINCRBY', prefix .. 'stats', 'subscriptions', -1)
  if redis.call('EXISTS', key) == 0 then redis.call('HINCRBY', prefix .. 'stats', 'channels', -1) end
  return 1
end

-- End a session: leave every channel (one unsubscribe event each) and delete
-- its keys. Returns the number of channels it had.
local function jug_end_session(prefix, evchan, sid)
  local skey = prefix .. 'session:' .. sid
  jug_notify_holder(prefix, skey, sid, 'E', jug_now_ms())
  local meta = redis.call('HGET', skey, 'meta') or 'null'
  local chans = redis.call('SMEMBERS', skey .. ':channels')
  for _, ch in ipairs(chans) do
    jug_channel_remove(prefix, ch, sid)
    redis.call('PUBLISH', evchan .. ':unsubscribe', jug_event_json(ch, sid, meta))
  end
  redis.call('DEL', skey, skey .. ':channels', skey .. ':queue')
  redis.call('ZREM', prefix .. 'sessions', sid)
  return #chans
end

-- Mark a session alive now. Returns true, or false if it is unknown or
-- lapsed (a lapsed one is ended on the spot, so its roster events are not
-- late just because the poller has not swept yet). This runs on every poll,
-- so it stays cheap: the backstop TTLs (many session lifetimes long) are
-- renewed only when the clock crosses into a new half-lifetime.
local function jug_touch(prefix, evchan, sid, ttl_ms, backstop_s, now)
  local score = redis.call('ZSCORE', prefix .. 'sessions', sid)
  if not score then return false end
  score = tonumber(score)
  if now - score > ttl_ms then
    jug_end_session(prefix, evchan, sid)
    return false
  end
  redis.call('ZADD', prefix .. 'sessions', now, sid)
  local period = math.max(math.floor(ttl_ms / 2), 1)
  if math.floor(now / period) ~= math.floor(score / period) then
    local skey = prefix .. 'session:' .. sid
    redis.call('EXPIRE', skey, backstop_s)
    redis.call('EXPIRE', skey .. ':channels', backstop_s)
    redis.call('EXPIRE', skey .. ':queue', backstop_s)
  end
  return true
end

local function jug_meta(prefix, sid)
  return redis.call('HGET', prefix .. 'session:' .. sid, 'meta') or 'null'
end

-- Subscribe a live session to argv[first..]. Refuses (changing nothing) when
-- the session would exceed max_channels. Returns the number newly added (and
-- tells a held request of the session, whose process must listen for more).
local function jug_subscribe(prefix, evchan, sid, meta, backstop_s, max_channels, argv, first)
  local ckey = prefix .. 'session:' .. sid .. ':channels'
  local fresh = {}
  for i = first, #argv do
    if redis.call('SISMEMBER', ckey, argv[i]) == 0 then fresh[#fresh + 1] = argv[i] end
  end
  if redis.call('SCARD', ckey) + #fresh > max_channels then
    return redis.error_reply('TOOMANY too many channels for one session')
  end
  for _, ch in ipairs(fresh) do
    if redis.call('SADD', ckey, ch) == 1 then
      jug_channel_add(prefix, ch, sid)
      redis.call('PUBLISH', evchan .. ':subscribe', jug_event_json(ch, sid, meta))
    end
  end
  redis.call('EXPIRE', ckey, backstop_s)
  if #fresh > 0 then jug_notify_holder(prefix, prefix .. 'session:' .. sid, sid, 'C', jug_now_ms()) end
  return #fresh
end

-- The hold slots the host has now, where max_held counts them (<prefix>holds,
-- docs/PROTOCOL.md, 4): max_held, and with a reserve (mod_fcgid offering no
-- stream) no more than leave reserve of the worker processes counted alive
-- in <prefix>procs (procalive.lua) unheld, one more while the host is still
-- starting processes (it started one moments ago because all were busy):
-- short requests (connect, a poll told to retry) rarely find every process
-- pinned, which under mod_fcgid costs them a second or more, and a host
-- that is starting up keeps its processes for the crowd that is connecting
-- (a lone process never holds).
-- Also returns the live processes (0 where they are not counted).
local function jug_hold_limit(prefix, now, max_held, reserve)
  local limit, live = max_held, 0
  if reserve > 0 then
    live = redis.call('ZCOUNT', prefix .. 'procs', now, '+inf')
    local free = reserve
    if redis.call('EXISTS', prefix .. 'procs:spawning') == 1 then free = free + 1 end
    if live - free < limit then limit = math.max(live - free, 0) end
  end
  return limit, live
end

-- Whether a hold slot is free now (where max_held counts them): expired
-- holds leave <prefix>holds first, and so does old (the token of a held
-- request being superseded, which gives its slot back; nil for none).
-- Also returns the live processes, as jug_hold_limit.
local function jug_slot_free(prefix, now, max_held, reserve, old)
  local holds = prefix .. 'holds'
  redis.call('ZREMRANGEBYSCORE', holds, '-inf', now)
  if old then redis.call('ZREM', holds, old) end
  local limit, live = jug_hold_limit(prefix, now, max_held, reserve)
  return redis.call('ZCARD', holds) < limit, live
end

-- Sessions opened in the current and the last second (Redis clock) where
-- hold slots are counted, counting one more first when opening is true:
-- <prefix>connects:<unix second>, kept 3 s. Enough of them are a crowd of
-- pages opening at once (as after a web-server restart), which the worker
-- tells to wait longer before polling (fcgi/stream.c, jugHoldRetryMs).
local function jug_recent_connects(prefix, now, opening)
  local second = math.floor(now / 1000)
  local counter = prefix .. 'connects:' .. string.format('%d', second)
  local connects
  if opening then
    connects = redis.call('INCR', counter)
    if connects == 1 then redis.call('EXPIRE', counter, 3) end
  else
    connects = tonumber(redis.call('GET', counter)) or 0
  end
  return connects + (tonumber(redis.call('GET', prefix .. 'connects:' .. string.format('%d', second - 1))) or 0)
end

local function jug_no_session()
  return redis.error_reply('NOSESSION unknown or expired session')
end
