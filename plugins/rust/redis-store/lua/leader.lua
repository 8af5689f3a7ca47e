-- leader(group): ARGV[3]. { 'ok', member, term } or { 'ok' } without a leader
-- (State::leader).
local g = ARGV[3]
if not group_exists(g) then
  return err('group-not-created', g)
end
local v = redis.call('HMGET', key('group', g), 'lmember', 'term')
if not v[1] then
  return { 'ok' }
end
return { 'ok', v[1], tonumber(v[2]) }
