-- get-locks(): { 'ok', { record, ... } }, sorted by name (State::locks).
local records = {}
for _, l in ipairs(redis.call('ZRANGE', K_LOCKS, 0, -1)) do
  table.insert(records, lock_record(l))
end
return { 'ok', records }
