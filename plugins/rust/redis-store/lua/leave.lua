-- leave(session, group): ARGV[3..4].
-- State::leave: removes the session's member id whichever session owns it (a twin with the
-- same id may boot it, as in tooz).
local s, g = ARGV[3], ARGV[4]
local sess = session(s)
if not sess then
  return unknown_session(s)
end
if not group_exists(g) then
  return err('group-not-created', g)
end
local owner = redis.call('HGET', key('members', g), sess.member)
if not owner then
  return not_a_member(s, sess, g)
end
redis.call('ZREM', key('sgroups', owner), g)
return { 'ok', remove_member(sess.member, g, 'left', true) or head() }
