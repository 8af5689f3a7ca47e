-- release-lock(session, lock): ARGV[3..4]. { 'ok', token (0 for a wait given up), revision }.
-- State::release_lock: the hold ends (lock-released, released) or the wait; the waiters that
-- now fit are served. Neither held nor awaited: lock-not-held.
local s, l = ARGV[3], ARGV[4]
if not hold_of(l, s) and not wait_of(l, s) then
  return err('lock-not-held', l)
end
local token = let_go(s, l, 'released')
redis.call('SREM', key('slocks', s), l)
serve_waiters(l)
return { 'ok', token or 0, head() }
