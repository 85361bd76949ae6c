-- fanout.lua -- deliver one published message to every subscriber, in one call.
-- ARGV: prefix, poller id, message tag ("<hash> <token> <index>"), max queue, backstop s, data JSON,
--       SSE event name ("" for none), SSE event id ("" for none),
--       except count, except ids..., channel...
--
-- Runs only for the poller holding the lease, so two pollers never deliver
-- the same message. Each subscriber's queue gets the delivery; then one
-- notification on <prefix>notify tells every worker process, which hands the
-- delivery to the requests it holds from memory (docs/PROTOCOL.md, 4).
-- Returns {first delivery id, pushes, queues trimmed}.
local prefix, me, tag = ARGV[1], ARGV[2], ARGV[3]
local max_queue, backstop = tonumber(ARGV[4]), tonumber(ARGV[5])
local data, event, event_id = ARGV[6], ARGV[7], ARGV[8]
if redis.call('GET', prefix .. 'poller:lease') ~= me then
  return redis.error_reply('NOTLEADER another poller holds the lease')
end
local except, except_list, nexcept = {}, {}, tonumber(ARGV[9])
for i = 10, 9 + nexcept do
  except[ARGV[i]] = true
  -- Only a session id can match a session; anything else is left out of the
  -- notification, whose lines are space-separated.
  if string.match(ARGV[i], '^[A-Za-z0-9_-]+$') then except_list[#except_list + 1] = ARGV[i] end
end
local first_channel = 10 + nexcept
local nchannels = #ARGV - first_channel + 1
-- Ids never go backwards, whatever Redis forgot (an older snapshot, a lost
-- AOF tail): the counter is at least the Redis clock in ms times 1024.
local seqkey = prefix .. 'seq'
local base = tonumber(redis.call('GET', seqkey) or '0')
local floor = jug_now_ms() * 1024
if base < floor then base = floor end
redis.call('SET', seqkey, string.format('%d', base + nchannels))
-- Jugglite's SSE fields ride along after the data, only when given.
local tail = ',"data":' .. data
if event ~= '' then tail = tail .. ',"event":' .. cjson.encode(event) end
if event_id ~= '' then tail = tail .. ',"event_id":' .. cjson.encode(event_id) end
tail = tail .. '}'
local pushes, trimmed, channels = 0, 0, {}
local session_prefix = prefix .. 'session:'
for k = 0, nchannels - 1 do
  local channel = ARGV[first_channel + k]
  channels[k + 1] = channel
  local item = '{"id":' .. string.format('%d', base + k + 1) .. ',"channel":' ..
               cjson.encode(channel) .. tail
  local sids = redis.call('SMEMBERS', prefix .. 'channel:' .. channel)
  for _, sid in ipairs(sids) do
    if not except[sid] then
      -- One string per subscriber: this loop is the fan-out's cost.
      local queue = session_prefix .. sid .. ':queue'
      local n = redis.call('RPUSH', queue, item)
      if n == 1 then
        redis.call('EXPIRE', queue, backstop)
      elseif n > max_queue then
        -- The oldest go; the session remembers how many and the newest of
        -- them, so that its next request can tell whether its client had
        -- them already (a stream wrote them, a long-poll answered them).
        local newest = jug_delivery_id(redis.call('LINDEX', queue, n - max_queue - 1))
        redis.call('LTRIM', queue, n - max_queue, -1)
        redis.call('HINCRBY', session_prefix .. sid, 'lost', n - max_queue)
        redis.call('HSET', session_prefix .. sid, 'lostid', string.format('%d', newest))
        trimmed = trimmed + 1
      end
      pushes = pushes + 1
    end
  end
end
redis.call('SET', prefix .. 'poller:last', tag)
redis.call('PUBLISH', prefix .. 'notify', 'M ' .. string.format('%d', base + 1) .. ' ' .. tag .. '\n' ..
           table.concat(channels, ' ') .. '\n' .. table.concat(except_list, ' ') .. '\n' .. tail)
return {base + 1, pushes, trimmed}
