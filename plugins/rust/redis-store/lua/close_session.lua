-- close-session(session): ARGV[3] the session key.
-- State::close_session: leave every group (left), withdraw every candidacy (resigned),
-- release every lock (session-closed), forget the session. A session Redis already forgot is closed already.
local s = ARGV[3]
local member = redis.call('HGET', key('session', s), 'member')
if member then
  drop_session_state(s, member, 'left', 'resigned')
end
redis.call('ZREM', K_DEADLINES, s)
redis.call('DEL', key('session', s), key('sgroups', s), key('scands', s), key('slost', s),
  key('sxg', s), key('sxc', s), key('slocks', s))
return { 'ok', head() }
