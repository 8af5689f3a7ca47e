-- member-info(group, member): ARGV[3..4]. One member, as members-info lists it
-- (State::member_info).
local g, member = ARGV[3], ARGV[4]
if not group_exists(g) then
  return err('group-not-created', g)
end
local owner = redis.call('HGET', key('members', g), member)
if not owner then
  return err('member-not-joined', g, member)
end
return { 'ok', member_record(g, member, owner) }
