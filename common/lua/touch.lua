-- touch.lua -- mark the sessions of held streams alive, many in one call.
-- ARGV: prefix, event channel, ttl ms, backstop s, sid...
-- Returns the sids that are no longer alive (their streams must end).
local prefix, evchan = ARGV[1], ARGV[2]
local ttl_ms, backstop = tonumber(ARGV[3]), tonumber(ARGV[4])
local now, dead = jug_now_ms(), {}
for i = 5, #ARGV do
  if not jug_touch(prefix, evchan, ARGV[i], ttl_ms, backstop, now) then dead[#dead + 1] = ARGV[i] end
end
return dead
