-- create-group(group): ARGV[3] the group.
-- State::create_group
local g = ARGV[3]
if group_exists(g) then
  return err('group-already-exist', g)
end
return { 'ok', create_group(g) }
