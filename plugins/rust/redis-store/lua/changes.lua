-- changes(after, max): ARGV[3..4]. After the expiry sweep (State::expire_due, which may
-- itself make changes):
-- { 'resync', requested, oldest, head } when revision after+1 is no longer kept, else
-- { 'events', head, ms until the next session deadline (-1: none), entries, store id ('' when
-- the store has none yet) } with at most `max` log entries from after+1 on. The driver waits
-- (XREAD BLOCK) outside the script.
local after, max = tonumber(ARGV[3]), tonumber(ARGV[4])
local h = head()
local from = math.max(after + 1, 1)
local oldest = h + 1
local first = redis.call('XRANGE', K_LOG, '-', '+', 'COUNT', 1)
if #first > 0 then
  oldest = tonumber(string.match(first[1][1], '^(%d+)-'))
end
if from < oldest and from <= h then
  return { 'resync', from, oldest, h }
end
local entries = {}
if from <= h and max > 0 then
  entries = redis.call('XRANGE', K_LOG, int(from) .. '-0', '+', 'COUNT', max)
end
local wake = -1
local next = redis.call('ZRANGE', K_DEADLINES, 0, 0, 'WITHSCORES')
if #next > 0 then
  wake = math.max(tonumber(next[2]) - NOW, 0)
end
return { 'events', h, wake, entries, redis.call('GET', P .. 'id') or '' }
