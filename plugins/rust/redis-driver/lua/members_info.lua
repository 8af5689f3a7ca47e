-- members-info(group): ARGV[3]. Every member as
-- { member, capabilities, joined ms, updated ms, revision, expires-in ms }.
local g = ARGV[3]
if not group_exists(g) then
  return err('group-not-created', g)
end
local owners = redis.call('HGETALL', key('members', g))
local out = {}
for i = 1, #owners, 2 do
  out[#out + 1] = member_record(g, owners[i], owners[i + 1])
end
return { 'ok', out }
