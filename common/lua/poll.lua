-- poll.lua -- acknowledge, drain the inbox, return what the client still needs.
-- ARGV: prefix, event channel, sid, ttl ms, backstop s, ack, after, max queue,
--       max batch, "1" if the caller's BLMOVE moved a nudge into "sent"
--
-- Deliveries with id <= ack are dropped from "sent"; the inbox moves behind
-- them; the reply is up to max batch deliveries with id > after, oldest first.
-- Long-poll passes after = ack (everything unacknowledged is sent again);
-- a stream passes the last id it wrote, to get only what is new.
local prefix, evchan, sid = ARGV[1], ARGV[2], ARGV[3]
local ttl_ms, backstop = tonumber(ARGV[4]), tonumber(ARGV[5])
local ack, after = tonumber(ARGV[6]), tonumber(ARGV[7])
local max_queue, max_batch = tonumber(ARGV[8]), tonumber(ARGV[9])
local skey = prefix .. 'session:' .. sid
local sent, inbox = skey .. ':sent', skey .. ':inbox'
if not jug_touch(prefix, evchan, sid, ttl_ms, backstop, jug_now_ms()) then
  -- A nudge pushed after the session ended recreates its inbox, and a wait
  -- still blocked on it moves the nudge into a "sent" without TTL: drop both.
  redis.call('DEL', inbox, sent)
  return jug_no_session()
end
if ARGV[10] == '1' then redis.call('LREM', sent, 0, NUDGE) end

while ack > 0 do
  local head = redis.call('LINDEX', sent, 0)
  if not head or jug_delivery_id(head) > ack then break end
  redis.call('LPOP', sent)
end

local items = redis.call('LRANGE', inbox, 0, -1)
if #items > 0 then
  redis.call('DEL', inbox)
  local batch = {}
  for _, item in ipairs(items) do
    if item ~= NUDGE then batch[#batch + 1] = item end
    if #batch == 500 then redis.call('RPUSH', sent, unpack(batch)); batch = {} end
  end
  if #batch > 0 then redis.call('RPUSH', sent, unpack(batch)) end
end

local len = redis.call('LLEN', sent)
if len == 0 then return {} end
-- A "sent" list made by RPUSH here or by the worker's BLMOVE has no TTL yet.
if redis.call('TTL', sent) < 0 then redis.call('EXPIRE', sent, backstop) end
if len > max_queue then
  redis.call('LTRIM', sent, -max_queue, -1)
  len = max_queue
end

-- Up to max_batch deliveries with id > after, oldest first, from the first
-- len items of "sent"; nil if a nudge is in the way (see below).
local function pending(len)
  -- Long-poll (after == ack): everything left in "sent" is unacknowledged.
  if after <= ack then
    local out = redis.call('LRANGE', sent, 0, max_batch - 1)
    for _, item in ipairs(out) do
      if item == NUDGE then return nil end
    end
    return out
  end
  -- Walk back from the tail in chunks to the first delivery newer than "after".
  local first = len
  while first > 0 do
    local lo = math.max(first - 64, 0)
    local chunk = redis.call('LRANGE', sent, lo, first - 1)
    local stop = false
    for i = #chunk, 1, -1 do
      if chunk[i] == NUDGE then return nil end
      if jug_delivery_id(chunk[i]) <= after then stop = true; break end
      first = lo + i - 1
    end
    if stop then break end
  end
  if first >= len then return {} end
  return redis.call('LRANGE', sent, first, math.min(first + max_batch, len) - 1)
end

local out = pending(len)
if out then return out end
-- A nudge can sit in "sent" without the caller knowing: a wait abandoned just
-- after its BLMOVE moved one. It is no delivery (id 0 would also stop the walk
-- above short of deliveries newer than "after"), so drop every one and look again.
len = len - redis.call('LREM', sent, 0, NUDGE)
if len == 0 then return {} end
return pending(len)
