-- join(session, group, capabilities, create, limit): ARGV[3..7]; create is "1" or "0".
-- State::join, creating the group first when asked: nothing changes when a check fails;
-- the same member id from any session is already there.
local s, g, caps, create, limit = ARGV[3], ARGV[4], ARGV[5], ARGV[6] == '1', tonumber(ARGV[7])
local large = too_large(caps, limit)
if large then
  return large
end
local sess = session(s)
if not sess then
  return unknown_session(s)
end
local expired = reopen_if_expired(s, sess)
if expired then
  return expired
end
if create and not group_exists(g) then
  create_group(g)
end
-- The group's creation revision doubles as the check that it exists.
local created = redis.call('HGET', key('group', g), 'created')
if not created then
  return err('group-not-created', g)
end
if redis.call('HEXISTS', key('members', g), sess.member) == 1 then
  return err('member-already-exist', g, sess.member)
end
local rev = commit(g, { 'e', 'mj', 'g', g, 'm', sess.member, 'c', caps }, true)
redis.call('HSET', key('members', g), sess.member, s)
redis.call('HSET', key('caps', g), sess.member, caps)
redis.call('HSET', key('meta', g), sess.member, meta(NOW, NOW, rev))
redis.call('ZADD', key('sgroups', s), rev, g)
redis.call('SREM', key('slost', s), created .. ':' .. g)
return { 'ok', rev }
