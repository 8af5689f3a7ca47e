-- acquire-lock(session, lock, mode, wait): ARGV[3..6], wait '1' or '0'.
-- { 'ok', 'acquired' | 'queued' | 'busy', token (0 unless acquired), revision }.
-- State::acquire_lock: granted when it fits beside the holders and nobody waits ahead;
-- otherwise queued when asked to wait, else busy. Asking again answers with where the
-- session stands: its token when it holds the lock in that mode, busy in the other mode,
-- queued while it waits. An expired session is reopened and the call fails with its notice.
local s, l, mode, wait = ARGV[3], ARGV[4], ARGV[5], ARGV[6] == '1'
local sess = session(s)
if not sess then
  return unknown_session(s)
end
local expired = reopen_if_expired(s, sess)
if expired then
  return expired
end
local held, token = hold_of(l, s)
if held == mode then
  return { 'ok', 'acquired', token, head() }
elseif held then
  return { 'ok', 'busy', 0, head() }
end
if wait_of(l, s) then
  return { 'ok', 'queued', 0, head() }
end
if redis.call('LLEN', key('lwait', l)) == 0 and lock_fits(l, mode) then
  local granted = grant_lock(s, l, mode)
  return { 'ok', 'acquired', granted, head() }
end
if not wait then
  return { 'ok', 'busy', 0, head() }
end
redis.call('RPUSH', key('lwait', l), mode .. ':' .. s)
redis.call('SADD', key('slocks', s), l)
redis.call('ZADD', K_LOCKS, 0, l)
return { 'ok', 'queued', 0, head() }
