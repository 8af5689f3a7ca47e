-- delete-group(group): ARGV[3] the group.
-- State::delete_group: only an empty group; its leadership ends (group-deleted) and its
-- candidates are no longer candidates.
local g = ARGV[3]
if not group_exists(g) then
  return err('group-not-created', g)
end
if redis.call('HLEN', key('members', g)) > 0 then
  return err('group-not-empty', g)
end
local sessions = {}
local leader = redis.call('HGET', key('group', g), 'leader')
if leader then
  sessions[#sessions + 1] = leader
end
for _, c in ipairs(redis.call('LRANGE', key('cands', g), 0, -1)) do
  sessions[#sessions + 1] = c
end
for _, s in ipairs(sessions) do
  withdraw_candidate(s, g, 'group-deleted')
  redis.call('ZREM', key('scands', s), g)
end
redis.call('DEL', key('group', g), key('members', g), key('caps', g), key('meta', g),
  key('cands', g))
redis.call('ZREM', K_GROUPS, g)
return { 'ok', commit(g, { 'e', 'gd', 'g', g }) }
