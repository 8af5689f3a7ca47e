-- heartbeat(session): ARGV[3] the session key.
-- State::heartbeat: renew; an expired session is renewed too, and says once what it lost.
local s = ARGV[3]
local sess = session(s)
if not sess then
  return unknown_session(s)
end
local expired = reopen_if_expired(s, sess)
if expired then
  return expired
end
renew(s, sess)
return { 'ok', sess.ttl }
