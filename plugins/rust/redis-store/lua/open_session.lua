-- open-session(key): ARGV[3] the session key "<random hex>.<ttl ms>.<member>".
-- State::open_session: a live session with deadline now + ttl.
local s = ARGV[3]
local member, ttl = parse_session(s)
if not member then
  return unknown_session(s)
end
redis.call('DEL', key('session', s), key('sgroups', s), key('scands', s), key('slost', s))
local sess = { member = member, ttl = ttl, deadline = 0 }
redis.call('HSET', key('session', s), 'member', member, 'ttl', ttl, 'deadline', 0)
renew(s, sess)
return { 'ok', s }
