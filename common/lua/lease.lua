-- lease.lua -- take, renew or release the active poller's lease, and count
-- the holder's renewals so that pollers notice when Redis lost writes.
-- ARGV: prefix, poller id, lease ms (0: release the lease if we hold it).
-- Taking the lease notes the time in poller:since (read by the status endpoint).
-- Returns {state, seq, alive}:
--   state  1 renewed (or, for a release, released), 2 newly taken,
--          0 another poller holds it (for a release: we did not hold it);
--   seq    <prefix>seq as text ("0" if none): tells the holder whether a
--          fan-out whose answer it lost has run;
--   alive  <prefix>alive, incremented by the holder at every renewal: a
--          value not above one seen before means Redis lost writes (restart
--          without persistence, older snapshot, lagging replica promoted).
local prefix, me, ms = ARGV[1], ARGV[2], tonumber(ARGV[3])
local key = prefix .. 'poller:lease'
local holder = redis.call('GET', key)
local seq = redis.call('GET', prefix .. 'seq') or '0'
if ms == 0 then
  if holder ~= me then return {0, seq, 0} end
  redis.call('DEL', key)
  return {1, seq, 0}
end
local state = 0
if holder == me then
  redis.call('PEXPIRE', key, ms)
  state = 1
elseif not holder then
  redis.call('SET', key, me, 'PX', ms)
  redis.call('SET', prefix .. 'poller:since', jug_now_ms())
  state = 2
end
local alive
if state > 0 then
  alive = redis.call('INCR', prefix .. 'alive')
else
  alive = tonumber(redis.call('GET', prefix .. 'alive') or '0')
end
return {state, seq, alive}
