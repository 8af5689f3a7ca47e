-- members(group): ARGV[3]. Every member id, in no particular order (State::members).
local g = ARGV[3]
if not group_exists(g) then
  return err('group-not-created', g)
end
return { 'ok', redis.call('HKEYS', key('members', g)) }
