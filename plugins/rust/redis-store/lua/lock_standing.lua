-- lock-standing(session, lock): ARGV[3..4].
-- { 'ok', 'holding', mode, token } | { 'ok', 'waiting', mode } | { 'ok', 'neither' }.
-- State::lock_standing
local s, l = ARGV[3], ARGV[4]
local held, token = hold_of(l, s)
if held then
  return { 'ok', 'holding', held, token }
end
local waiting = wait_of(l, s)
if waiting then
  return { 'ok', 'waiting', waiting }
end
return { 'ok', 'neither' }
