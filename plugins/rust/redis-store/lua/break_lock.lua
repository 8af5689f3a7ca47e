-- break-lock(session, lock): ARGV[3..4]. { 'ok', revision, { token, ... } }.
-- State::break_lock: every hold ends (lock-released, broken); the waiters are served.
local l = ARGV[4]
local tokens = {}
for _, s in ipairs(redis.call('LRANGE', key('lholders', l), 0, -1)) do
  local token = let_go(s, l, 'broken')
  if token then
    table.insert(tokens, token)
  end
  redis.call('SREM', key('slocks', s), l)
end
serve_waiters(l)
return { 'ok', head(), tokens }
