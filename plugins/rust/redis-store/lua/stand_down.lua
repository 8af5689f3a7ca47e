-- stand-down(session, group): ARGV[3..4]. { 'ok', 1 or 0 (was leader), revision }.
-- State::stand_down: the leader goes to the back of the candidates and the next one is
-- elected (itself again if alone).
local s, g = ARGV[3], ARGV[4]
if not group_exists(g) then
  return err('group-not-created', g)
end
local gk = key('group', g)
local l = redis.call('HMGET', gk, 'leader', 'lmember', 'term')
if l[1] ~= s then
  return { 'ok', 0, head() }
end
redis.call('HDEL', gk, 'leader', 'lmember', 'term')
redis.call('RPUSH', key('cands', g), s)
commit(g, { 'e', 'll', 'g', g, 'm', l[2], 't', l[3], 'r', 'stood-down' })
elect_if_vacant(g)
return { 'ok', 1, head() }
