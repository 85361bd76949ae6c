-- poll.lua -- acknowledge, return what the client still needs, maybe hold.
-- ARGV: prefix, event channel, sid, ttl ms, backstop s, ack, after, max batch,
--       token ("" for a plain poll), hold ("0" never, "1" when nothing is
--       pending, "2" always: a stream), hold ms, max held (0: not counted),
--       reserve (0: none; else live processes a hold leaves free, below)
--
-- Deliveries with id <= ack leave the session's queue; the reply's items are
-- up to max batch deliveries with id > after, oldest first. Long-poll passes
-- after = ack (everything unacknowledged is sent again); a stream passes the
-- last id it wrote. A request with a token supersedes the session's older
-- held request (its worker process is told). If it may be held, it is, when
-- a hold slot is free: max held counts every held request of all workers on
-- this Redis in the zset <prefix>holds (only where holding pins a process),
-- against the slots the host has now (jug_hold_limit: fewer while it runs
-- too few processes to keep one free).
--
-- Reply: {items, lost, held, seq, channels, sessions, connects, live}:
-- lost = deliveries this client missed since the last poll (trimmed from
-- the queue, -1: an unknown number, Redis lost data); held = 0
-- not held, 1 held, 2 refused for want of a slot (also a long-poll answered
-- with items then: it waits before polling again); seq and channels (held
-- only) are what the worker needs to wait in memory; sessions, connects and
-- live (refused only) are the load: live sessions, sessions opened this
-- second and the last, worker processes counted alive (0: not counted).
local prefix, evchan, sid = ARGV[1], ARGV[2], ARGV[3]
local ttl_ms, backstop = tonumber(ARGV[4]), tonumber(ARGV[5])
local ack, after, max_batch = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local token, hold = ARGV[9], ARGV[10]
local hold_ms, max_held = tonumber(ARGV[11]), tonumber(ARGV[12])
local reserve = tonumber(ARGV[13]) or 0
local now = jug_now_ms()
local skey = prefix .. 'session:' .. sid
local queue = skey .. ':queue'
if not jug_touch(prefix, evchan, sid, ttl_ms, backstop, now) then
  return jug_no_session()
end

-- Acknowledge: drop the head of the queue up to ack, a chunk at a time.
while ack > 0 do
  local head = redis.call('LRANGE', queue, 0, 63)
  local n = 0
  for _, item in ipairs(head) do
    if jug_delivery_id(item) > ack then break end
    n = n + 1
  end
  if n == 0 then break end
  redis.call('LTRIM', queue, n, -1)
  if n < 64 then break end
end

local items
if after <= ack then
  items = redis.call('LRANGE', queue, 0, max_batch - 1)
else
  -- The queue is in id order: find the first delivery newer than "after".
  local lo, hi = 0, redis.call('LLEN', queue)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if jug_delivery_id(redis.call('LINDEX', queue, mid)) <= after then lo = mid + 1 else hi = mid end
  end
  items = redis.call('LRANGE', queue, lo, lo + max_batch - 1)
end

-- Deliveries this client never had and never will: trimmed from the queue
-- (max_queue) with an id above its ack and above "after" (a trimmed delivery
-- at or below either reached it: a stream wrote it, a long-poll answered
-- it), or gone with
-- Redis's data (announce.lua marks every session that survived a loss with
-- "gap": how many is not known, -1).
local lost = 0
local trim = redis.call('HMGET', skey, 'lost', 'lostid', 'gap')
if trim[1] or trim[3] then
  redis.call('HDEL', skey, 'lost', 'lostid', 'gap')
  if trim[3] then
    lost = -1
  elseif (tonumber(trim[2]) or 0) > math.max(ack, after) then
    lost = tonumber(trim[1]) or 0
  end
end

if token == '' then return {items, lost, 0} end
local old = jug_notify_holder(prefix, skey, sid, 'S', now, token)

-- Whether a hold slot is free (only asked where they are counted); the
-- session's older held request, superseded now, gives its slot back.
local function slot_free() return jug_slot_free(prefix, now, max_held, reserve, old) end

local function refused(live)
  if old then redis.call('HDEL', skey, 'holder') end
  return {items, lost, 2, '0', {}, redis.call('ZCARD', prefix .. 'sessions'),
          jug_recent_connects(prefix, now, false), live}
end

if hold == '0' or (hold == '1' and #items > 0) then
  -- A long-poll answered with deliveries where no slot is free is told to
  -- wait too (its next poll would only be refused): half the polls.
  if hold == '1' and max_held > 0 then
    local free, live = slot_free()
    if not free then return refused(live) end
  end
  if old then redis.call('HDEL', skey, 'holder') end
  return {items, lost, 0}
end

if max_held > 0 then
  local free, live = slot_free()
  if not free then return refused(live) end
  redis.call('ZADD', prefix .. 'holds', now + hold_ms, token)
end
redis.call('HSET', skey, 'holder', token .. ' ' .. string.format('%d', now + hold_ms))
local seq = redis.call('GET', prefix .. 'seq') or '0'
return {items, lost, 1, seq, redis.call('SMEMBERS', skey .. ':channels')}
