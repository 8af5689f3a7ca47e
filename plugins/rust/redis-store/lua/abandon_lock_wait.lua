-- abandon-lock-wait(session, lock): ARGV[3..4]. { 'ok', token (0: none kept), revision }.
-- State::abandon_lock_wait: a session granted the lock meanwhile keeps it; one still in the
-- queue leaves it, and the waiters it blocked are served.
local s, l = ARGV[3], ARGV[4]
local held, token = hold_of(l, s)
if held then
  return { 'ok', token, head() }
end
if wait_of(l, s) then
  let_go(s, l, 'released')
  redis.call('SREM', key('slocks', s), l)
  serve_waiters(l)
end
return { 'ok', 0, head() }
