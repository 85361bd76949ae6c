-- lease.lua -- take or renew the active poller's lease.
-- ARGV: prefix, poller id, lease ms. Taking the lease notes the time in
-- poller:since (read by the status endpoint).
-- Returns {1, ""} renewed, {2, last hash} newly taken (replay after that
-- message), {0, ""} another poller holds it.
local key = ARGV[1] .. 'poller:lease'
local holder = redis.call('GET', key)
if holder == ARGV[2] then
  redis.call('PEXPIRE', key, ARGV[3])
  return {1, ''}
end
if holder then return {0, ''} end
redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
redis.call('SET', ARGV[1] .. 'poller:since', jug_now_ms())
return {2, redis.call('GET', ARGV[1] .. 'poller:last') or ''}
