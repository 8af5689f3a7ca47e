-- Shared by every operation: the key layout, the clock, the change log, and the rules that
-- several operations share (expiry, leaving, withdrawing, electing). The driver puts this
-- file in front of the operations' files, so every operation is one function or script and
-- runs atomically: nothing another client does can come between its checks and its writes.
-- On Redis 7 and later the whole is one function library, loaded once, and its top level
-- (defining these functions) runs at load, not at every call; on older servers each
-- operation is this file and its own as one script.
--
-- Every operation gets ARGV[1] = the key prefix ("{namespace}:"), ARGV[2] = how many events
-- the change log keeps, and its own arguments from ARGV[3] on, and starts with `begin()`.
-- KEYS[1] is the revision counter: every key shares the "{namespace}" hash tag, so on a
-- cluster they all live in that key's slot. ARGV is the script's global, or in a library
-- the local the driver declares in front of this file and sets at each call.
--
-- Rules follow roster-rules (host/rules/src/: the rules the embedded backend and the file
-- driver run) step for step, restated in Lua so that each operation is one atomic script; the
-- comments name the roster-rules function each step implements (State::join is
-- roster_rules::State::join). Event kinds and reasons are written by the names the driver
-- reads into the host's enums: kinds by a short code (e = 'gc', 'gd', 'mj', 'ml', 'cu', 'le',
-- 'll', 'la', 'lr'), leave reasons, leadership ends, lock modes and lock release reasons as
-- their enums serialize ('left', 'expired', 'stood-down', 'exclusive', 'session-closed', ...).

-- Set by `begin` at each call: the key prefix, the change log's length, the keys below and
-- the call's one instant.
local P, HISTORY, K_REV, K_LOG, K_GROUPS, K_DEADLINES, K_LOCKS, NOW
-- An expired session is kept this long (or one TTL, if longer) so that its next heartbeat
-- can report what it lost; then Redis forgets it (State::forget_expired). A forgotten
-- session's key still names its member and TTL, so it comes back (expired, with nothing to
-- report) if it is used again (State::recall_session).
local GRACE_MS = 3600000

local function key(kind, name)
  return P .. kind .. ':' .. name
end

-- K_REV = P .. 'rev'             string: the head revision
-- K_LOG = P .. 'log'             stream: one entry per change, id "<revision>-0"
-- K_GROUPS = P .. 'groups'       sorted set, all scores 0: group ids in byte order
-- K_DEADLINES = P .. 'deadlines' sorted set: live session key -> deadline (Unix ms)
-- K_LOCKS = P .. 'locks'         sorted set, all scores 0: locks with a holder or waiter
-- Per lock L: 'lholders:L' (list: holding sessions, in acquisition order), 'lhold:L' (hash:
-- session -> "<mode>:<token>"), 'lwait:L' (list: "<mode>:<session>", first served first).
-- Per session S: 'slocks:S' (set: the locks it holds or waits for).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%d', n)
end

local function head()
  return tonumber(redis.call('GET', K_REV) or '0')
end

local function group_exists(g)
  return redis.call('EXISTS', key('group', g)) == 1
end

local function err(...)
  return { 'err', ... }
end

-- State::commit: the next revision, the group's last change, one log entry.
-- `fields` are the entry's field/value pairs: e = kind, g = group, m = member,
-- c = capabilities, t = term, r = reason. `exists`: true when the caller knows the group
-- exists (each call a script makes costs a few microseconds, so none is made twice).
local function commit(g, fields, exists)
  local rev = redis.call('INCR', K_REV)
  if exists or group_exists(g) then
    redis.call('HSET', key('group', g), 'last', rev)
  end
  redis.call('XADD', K_LOG, 'MAXLEN', HISTORY, int(rev) .. '-0', unpack(fields))
  return rev
end

-- A session key is "<random hex>.<ttl ms>.<member id>" (made by the driver).
local function parse_session(s)
  local ttl, member = string.match(s, '^%x+%.(%d+)%.(.+)$')
  if not member then
    return nil
  end
  return member, tonumber(ttl)
end

-- The session's record: { member, ttl, deadline } (deadline 0 once expired). A session
-- Redis has forgotten comes back expired (State::recall_session); nil for a key this driver
-- did not make.
local function session(s)
  local sk = key('session', s)
  local v = redis.call('HMGET', sk, 'member', 'ttl', 'deadline')
  if v[1] then
    return { member = v[1], ttl = tonumber(v[2]), deadline = tonumber(v[3]) }
  end
  local member, ttl = parse_session(s)
  if not member then
    return nil
  end
  redis.call('HSET', sk, 'member', member, 'ttl', ttl, 'deadline', 0)
  redis.call('PEXPIRE', sk, math.max(ttl, GRACE_MS))
  return { member = member, ttl = ttl, deadline = 0 }
end

local function unknown_session(s)
  return err('unknown-session', s)
end

-- State::renew
local function renew(s, sess)
  sess.deadline = NOW + sess.ttl
  redis.call('HSET', key('session', s), 'deadline', sess.deadline)
  redis.call('ZADD', K_DEADLINES, sess.deadline, s)
  redis.call('PERSIST', key('session', s))
  redis.call('PERSIST', key('slost', s))
end

-- State::create_group, once the group is known not to exist.
local function create_group(g)
  local created = head() + 1
  redis.call('ZADD', K_GROUPS, 0, g)
  redis.call('HSET', key('group', g), 'created', created, 'last', created)
  return commit(g, { 'e', 'gc', 'g', g })
end

-- State::elect_if_vacant
local function elect_if_vacant(g)
  local gk = key('group', g)
  if not group_exists(g) or redis.call('HEXISTS', gk, 'leader') == 1 then
    return
  end
  local next = redis.call('LPOP', key('cands', g))
  if not next then
    return
  end
  local member = redis.call('HGET', key('session', next), 'member') or parse_session(next)
  local term = head() + 1
  redis.call('HSET', gk, 'leader', next, 'lmember', member, 'term', term)
  commit(g, { 'e', 'le', 'g', g, 'm', member, 't', int(term) })
end

-- State::withdraw_candidate
local function withdraw_candidate(s, g, why)
  local gk = key('group', g)
  if not group_exists(g) then
    return
  end
  redis.call('LREM', key('cands', g), 0, s)
  local l = redis.call('HMGET', gk, 'leader', 'lmember', 'term')
  if l[1] == s then
    redis.call('HDEL', gk, 'leader', 'lmember', 'term')
    commit(g, { 'e', 'll', 'g', g, 'm', l[2], 't', l[3], 'r', why })
    if why ~= 'group-deleted' then
      elect_if_vacant(g)
    end
  end
end

-- State::remove_member; returns the revision of the member-left event, nil when there was
-- none. `exists` as for commit.
local function remove_member(member, g, why, exists)
  if not (exists or group_exists(g)) then
    return nil
  end
  if redis.call('HDEL', key('members', g), member) == 0 then
    return nil
  end
  redis.call('HDEL', key('caps', g), member)
  redis.call('HDEL', key('meta', g), member)
  return commit(g, { 'e', 'ml', 'g', g, 'm', member, 'r', why }, true)
end

-- ----- locks (roster-rules' locks.rs) -----

-- The member a session acts for.
local function session_member(s)
  return redis.call('HGET', key('session', s), 'member') or parse_session(s)
end

-- State::commit for a lock's change: the next revision and one log entry (a lock belongs to
-- no group). `fields` as for commit, with k = lock, o = mode.
local function commit_lock(fields)
  local rev = redis.call('INCR', K_REV)
  redis.call('XADD', K_LOG, 'MAXLEN', HISTORY, int(rev) .. '-0', unpack(fields))
  return rev
end

-- A hold's mode and token.
local function hold_of(l, s)
  local hold = redis.call('HGET', key('lhold', l), s)
  if not hold then
    return nil
  end
  local mode, token = string.match(hold, '^(%a+):(%d+)$')
  return mode, tonumber(token)
end

-- The mode the session waits for `l` in, nil when it does not wait.
local function wait_of(l, s)
  for _, w in ipairs(redis.call('LRANGE', key('lwait', l), 0, -1)) do
    local mode, ws = string.match(w, '^(%a+):(.*)$')
    if ws == s then
      return mode
    end
  end
  return nil
end

-- Lock::fits: an exclusive holder needs no holders, a shared one only shared ones.
local function lock_fits(l, mode)
  local holds = redis.call('HVALS', key('lhold', l))
  if mode == 'exclusive' then
    return #holds == 0
  end
  for _, h in ipairs(holds) do
    if string.match(h, '^(%a+):') ~= 'shared' then
      return false
    end
  end
  return true
end

-- State::grant: the session holds `l` (lock-acquired); returns the fencing token.
local function grant_lock(s, l, mode)
  local token = head() + 1
  redis.call('RPUSH', key('lholders', l), s)
  redis.call('HSET', key('lhold', l), s, mode .. ':' .. int(token))
  redis.call('SADD', key('slocks', s), l)
  redis.call('ZADD', K_LOCKS, 0, l)
  commit_lock({ 'e', 'la', 'k', l, 'm', session_member(s), 'o', mode, 't', int(token) })
  return token
end

-- State::let_go: the session's wait on `l` ends, and its hold (lock-released for `why`;
-- returns the hold's token). The waiters behind are not served here.
local function let_go(s, l, why)
  local mode = wait_of(l, s)
  if mode then
    redis.call('LREM', key('lwait', l), 0, mode .. ':' .. s)
  end
  local held, token = hold_of(l, s)
  if not held then
    return nil
  end
  redis.call('HDEL', key('lhold', l), s)
  redis.call('LREM', key('lholders', l), 0, s)
  commit_lock({ 'e', 'lr', 'k', l, 'm', session_member(s), 'o', held, 't', int(token),
    'r', why })
  return token
end

-- State::serve_waiters: grant `l` to the waiters at the front that fit, in order; forget
-- the lock once nobody holds or waits for it.
local function serve_waiters(l)
  while true do
    local front = redis.call('LINDEX', key('lwait', l), 0)
    if not front then
      break
    end
    local mode, s = string.match(front, '^(%a+):(.*)$')
    if not lock_fits(l, mode) then
      break
    end
    redis.call('LPOP', key('lwait', l))
    grant_lock(s, l, mode)
  end
  if redis.call('HLEN', key('lhold', l)) == 0 and redis.call('LLEN', key('lwait', l)) == 0 then
    redis.call('ZREM', K_LOCKS, l)
    redis.call('DEL', key('lholders', l))
  end
end

-- State::drop_session_locks: every hold and wait of the session ends, for `why`.
local function drop_session_locks(s, why)
  local names = redis.call('SMEMBERS', key('slocks', s))
  redis.call('DEL', key('slocks', s))
  table.sort(names)
  for _, l in ipairs(names) do
    let_go(s, l, why)
    serve_waiters(l)
  end
end

-- Lock::info: { lock, { {member, mode, token}, ... }, { {member, mode}, ... } }.
local function lock_record(l)
  local holders = {}
  for _, s in ipairs(redis.call('LRANGE', key('lholders', l), 0, -1)) do
    local mode, token = hold_of(l, s)
    if mode then
      table.insert(holders, { session_member(s), mode, token })
    end
  end
  local waiters = {}
  for _, w in ipairs(redis.call('LRANGE', key('lwait', l), 0, -1)) do
    local mode, s = string.match(w, '^(%a+):(.*)$')
    table.insert(waiters, { session_member(s), mode })
  end
  return { l, holders, waiters }
end

-- State::drop_session_state: candidacies end first, then memberships, then locks; an
-- expiry also remembers each lost group (by its creation revision, so a recreated group of
-- the same name is told apart), and the whole loss for the session's expiry notice
-- (Tie::Expired*).
-- Set members: 'sxg' the groups, 'sxc' the candidacies.
local function drop_session_state(s, member, leave, why)
  local groups = redis.call('ZRANGE', key('sgroups', s), 0, -1)
  local cands = redis.call('ZRANGE', key('scands', s), 0, -1)
  redis.call('DEL', key('sgroups', s), key('scands', s))
  for _, g in ipairs(cands) do
    withdraw_candidate(s, g, why)
  end
  for _, g in ipairs(groups) do
    remove_member(member, g, leave)
  end
  local released = 'session-closed'
  if leave == 'expired' or leave == 'session-lost' then
    released = leave
  end
  drop_session_locks(s, released)
  if leave == 'expired' then
    for _, g in ipairs(groups) do
      local created = redis.call('HGET', key('group', g), 'created')
      if created then
        redis.call('SADD', key('slost', s), created .. ':' .. g)
      end
      redis.call('SADD', key('sxg', s), g)
    end
    for _, g in ipairs(cands) do
      redis.call('SADD', key('sxc', s), g)
    end
  end
end

-- State::expire_due: every session whose deadline has come, in deadline order.
local function expire_due()
  local due = redis.call('ZRANGEBYSCORE', K_DEADLINES, '-inf', NOW)
  for _, s in ipairs(due) do
    redis.call('ZREM', K_DEADLINES, s)
    local sk = key('session', s)
    local v = redis.call('HMGET', sk, 'member', 'ttl')
    if v[1] then
      redis.call('HSET', sk, 'deadline', 0)
      drop_session_state(s, v[1], 'expired', 'expired')
      local keep = math.max(tonumber(v[2]), GRACE_MS)
      redis.call('PEXPIRE', sk, keep)
      redis.call('PEXPIRE', key('slost', s), keep)
      redis.call('PEXPIRE', key('sxg', s), keep)
      redis.call('PEXPIRE', key('sxc', s), keep)
    end
  end
end

-- The members of a set, sorted.
local function sorted_members(k)
  local out = redis.call('SMEMBERS', k)
  table.sort(out)
  return out
end

-- State::reopen_if_expired, the rule of every call that needs a live session (heartbeat,
-- join, stand): an expired session is renewed and the call fails with the expiry notice
-- (Session::take_expiry_notice: every group and candidacy the expiry took, given once).
-- nil when the session is live.
local function reopen_if_expired(s, sess)
  if sess.deadline ~= 0 then
    return nil
  end
  local groups = sorted_members(key('sxg', s))
  local cands = sorted_members(key('sxc', s))
  redis.call('DEL', key('sxg', s), key('sxc', s))
  renew(s, sess)
  return err('session-expired', sess.member, groups, cands)
end

-- State::not_a_member: member-expired once per lost group, member-not-joined otherwise.
local function not_a_member(s, sess, g)
  local created = redis.call('HGET', key('group', g), 'created')
  if redis.call('SREM', key('slost', s), created .. ':' .. g) == 1 then
    return err('member-expired', g, sess.member)
  end
  return err('member-not-joined', g, sess.member)
end

-- Whether `caps` are within `limit` bytes (Capabilities::check_size).
local function too_large(caps, limit)
  if #caps > limit then
    return err('capabilities-too-large', #caps, limit)
  end
  return nil
end

-- A member's stored details: "<joined ms>:<updated ms>:<revision>".
local function meta(joined, updated, rev)
  return int(joined) .. ':' .. int(updated) .. ':' .. int(rev)
end

-- { member, capabilities, joined, updated, revision, expires-in } of a member whose session
-- is `s` (expires-in 0 once the session has expired): State::info_of.
local function member_record(g, member, s)
  local caps = redis.call('HGET', key('caps', g), member) or ''
  local m = redis.call('HGET', key('meta', g), member) or '0:0:0'
  local joined, updated, rev = string.match(m, '^(%d+):(%d+):(%d+)$')
  local deadline = tonumber(redis.call('HGET', key('session', s), 'deadline') or '0')
  local left = 0
  if deadline > NOW then
    left = deadline - NOW
  end
  return { member, caps, tonumber(joined), tonumber(updated), tonumber(rev), left }
end

-- The start of every operation: its per-call values from ARGV, one instant for the whole
-- call (as the embedded backend takes one `now` per call), then the expiry sweep.
local function begin()
  P = ARGV[1]
  HISTORY = tonumber(ARGV[2])
  K_REV = P .. 'rev'
  K_LOG = P .. 'log'
  K_GROUPS = P .. 'groups'
  K_DEADLINES = P .. 'deadlines'
  K_LOCKS = P .. 'locks'
  NOW = now_ms()
  expire_due()
end
