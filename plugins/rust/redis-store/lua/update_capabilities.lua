-- update-capabilities(session, group, capabilities, limit): ARGV[3..6].
-- State::update_capabilities
local s, g, caps, limit = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local large = too_large(caps, limit)
if large then
  return large
end
local sess = session(s)
if not sess then
  return unknown_session(s)
end
if not group_exists(g) then
  return err('group-not-created', g)
end
local m = redis.call('HGET', key('meta', g), sess.member)
if not m then
  return not_a_member(s, sess, g)
end
local joined = string.match(m, '^(%d+):')
local rev = commit(g, { 'e', 'cu', 'g', g, 'm', sess.member, 'c', caps }, true)
redis.call('HSET', key('caps', g), sess.member, caps)
redis.call('HSET', key('meta', g), sess.member, meta(tonumber(joined), NOW, rev))
return { 'ok', rev }
