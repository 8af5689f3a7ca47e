-- members-info(group): ARGV[3]. Every member as
-- { member, capabilities, joined ms, updated ms, revision, expires-in ms } (State::members_info).
-- Reads whole hashes (and the live sessions' deadlines) in a few calls rather than several
-- per member: this is what `get_members` of a large group costs.
local g = ARGV[3]
if not group_exists(g) then
  return err('group-not-created', g)
end
local function as_table(flat)
  local t = {}
  for i = 1, #flat, 2 do
    t[flat[i]] = flat[i + 1]
  end
  return t
end
local owners = redis.call('HGETALL', key('members', g))
local caps = as_table(redis.call('HGETALL', key('caps', g)))
local meta = as_table(redis.call('HGETALL', key('meta', g)))
-- The owners' deadlines, ZMSCORE'd in chunks (Lua's unpack takes a few thousand values).
local scores = {}
local chunk = {}
local function flush()
  if #chunk > 0 then
    for _, score in ipairs(redis.call('ZMSCORE', K_DEADLINES, unpack(chunk))) do
      scores[#scores + 1] = score
    end
    chunk = {}
  end
end
for i = 2, #owners, 2 do
  chunk[#chunk + 1] = owners[i]
  if #chunk == 1000 then
    flush()
  end
end
flush()
local out = {}
for i = 1, #owners, 2 do
  local member = owners[i]
  local joined, updated, rev = string.match(meta[member] or '0:0:0', '^(%d+):(%d+):(%d+)$')
  local left = math.max((tonumber(scores[(i + 1) / 2]) or 0) - NOW, 0)
  out[#out + 1] = { member, caps[member] or '', tonumber(joined), tonumber(updated),
    tonumber(rev), left }
end
return { 'ok', out }
