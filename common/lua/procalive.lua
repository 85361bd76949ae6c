-- procalive.lua -- count this worker process alive (or gone) in <prefix>procs.
-- ARGV: prefix, instance, ttl ms (0: the process stops, forget it), spawning ms
--
-- Where a held request pins a whole process (Apache mod_fcgid), each worker
-- process refreshes its entry every few seconds; poll.lua holds a request
-- only while enough of the live processes stay free for short requests
-- (docs/PROTOCOL.md, 4). An entry of a process that died unannounced
-- expires after ttl. A process counted for the first time while others
-- are alive (mod_fcgid started it because all of them were busy) marks the
-- host as still starting processes (<prefix>procs:spawning, spawning ms).
-- Returns how many processes are alive.
local prefix, instance, ttl, spawning = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local procs = prefix .. 'procs'
local now = jug_now_ms()
redis.call('ZREMRANGEBYSCORE', procs, '-inf', now)
if ttl > 0 then
  if redis.call('ZADD', procs, now + ttl, instance) == 1 and redis.call('ZCARD', procs) > 1 then
    redis.call('SET', prefix .. 'procs:spawning', instance, 'PX', spawning)
  end
else
  redis.call('ZREM', procs, instance)
end
return redis.call('ZCARD', procs)
