-- fanout.lua -- deliver one published message to every subscriber, in one call.
-- ARGV: prefix, poller id, message hash, max queue, backstop s, data JSON,
--       SSE event name ("" for none), SSE event id ("" for none),
--       except count, except ids..., channel...
--
-- Runs only for the poller holding the lease, so two pollers never deliver
-- the same message. Returns {first delivery id, pushes, trimmed lists}.
local prefix, me, hash = ARGV[1], ARGV[2], ARGV[3]
local max_queue, backstop = tonumber(ARGV[4]), tonumber(ARGV[5])
local data, event, event_id = ARGV[6], ARGV[7], ARGV[8]
if redis.call('GET', prefix .. 'poller:lease') ~= me then
  return redis.error_reply('NOTLEADER another poller holds the lease')
end
local except, nexcept = {}, tonumber(ARGV[9])
for i = 10, 9 + nexcept do except[ARGV[i]] = true end
local first_channel = 10 + nexcept
local nchannels = #ARGV - first_channel + 1
local base = redis.call('INCRBY', prefix .. 'seq', nchannels) - nchannels
-- Jugglite's SSE fields ride along after the data, only when given.
local tail = ',"data":' .. data
if event ~= '' then tail = tail .. ',"event":' .. cjson.encode(event) end
if event_id ~= '' then tail = tail .. ',"event_id":' .. cjson.encode(event_id) end
tail = tail .. '}'
local pushes, trimmed = 0, 0
for k = 0, nchannels - 1 do
  local channel = ARGV[first_channel + k]
  local item = '{"id":' .. string.format('%d', base + k + 1) .. ',"channel":' ..
               cjson.encode(channel) .. tail
  local sids = redis.call('SMEMBERS', prefix .. 'channel:' .. channel)
  for _, sid in ipairs(sids) do
    if not except[sid] then
      local inbox = prefix .. 'session:' .. sid .. ':inbox'
      local n = redis.call('RPUSH', inbox, item)
      if n == 1 then
        redis.call('EXPIRE', inbox, backstop)
      elseif n > max_queue then
        redis.call('LTRIM', inbox, -max_queue, -1)
        trimmed = trimmed + 1
      end
      pushes = pushes + 1
    end
  end
end
redis.call('SET', prefix .. 'poller:last', hash)
return {base + 1, pushes, trimmed}
