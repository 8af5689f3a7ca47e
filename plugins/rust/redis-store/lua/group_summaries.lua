-- group-summaries(): the head and, per group in id order,
-- { group, member count, last change, leader member or false, term or false }
-- (State::group_summaries).
local out = {}
for _, g in ipairs(redis.call('ZRANGE', K_GROUPS, 0, -1)) do
  local v = redis.call('HMGET', key('group', g), 'last', 'lmember', 'term')
  out[#out + 1] = { g, redis.call('HLEN', key('members', g)), tonumber(v[1]) or 0, v[2], v[3] }
end
return { 'ok', head(), out }
