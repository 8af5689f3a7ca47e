-- withdraw(session, group): ARGV[3..4].
-- State::withdraw: a leader resigns and the next candidate is elected; not being a
-- candidate (or a missing group) is not an error.
local s, g = ARGV[3], ARGV[4]
if redis.call('ZREM', key('scands', s), g) == 1 then
  withdraw_candidate(s, g, 'resigned')
end
return { 'ok', head() }
