-- stand(session, group): ARGV[3..4].
-- State::stand_for_election: to the back of the candidates (nothing if already one); a
-- group without a leader elects its first candidate at once.
local s, g = ARGV[3], ARGV[4]
local sess = session(s)
if not sess then
  return unknown_session(s)
end
local expired = reopen_if_expired(s, sess)
if expired then
  return expired
end
if not group_exists(g) then
  return err('group-not-created', g)
end
if redis.call('HGET', key('group', g), 'leader') == s
  or redis.call('LPOS', key('cands', g), s) then
  return { 'ok', head() }
end
redis.call('RPUSH', key('cands', g), s)
redis.call('ZADD', key('scands', s), head(), g)
elect_if_vacant(g)
return { 'ok', head() }
