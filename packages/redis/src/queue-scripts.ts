// Lua scripts of the Redis queue. Each queue operation is one script, so it is atomic and one
// round trip. Time is never read from Redis: the caller's clock passes `now` in.
//
// KEYS of every script: due, ready, times, meta (see redis-queue.ts for the layout).
// ARGV of every script starts with: base (the key prefix of this queue), now (ms).
//
// An item is always in exactly one of `due` (score: when it becomes claimable) or `ready`
// (claimable now; lex-ordered member, see `member`), and always in `times` (score: when it is or
// becomes claimable), plus the same three sets of its partition when it has one.

const LIBRARY = `
local base = ARGV[1]
local now = tonumber(ARGV[2])
local DUE, READY, TIMES, META = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function part(pk, kind) return base .. 'part:' .. pk .. ':' .. kind end
local function itemKey(id) return base .. 'item:' .. id end

-- The ready-set member: fixed-width digits that sort as priority DESC, availableAt ASC, enqueue
-- order ASC, then the id. Sorting strings avoids packing three numbers into one double score.
local function member(priority, availableAt, seq, id)
  return string.format('%07.0f%016.0f%016.0f', 1000000 - priority, availableAt, seq) .. id
end

local function setTime(id, pk, at)
  redis.call('ZADD', TIMES, at, id)
  if pk then redis.call('ZADD', part(pk, 'times'), at, id) end
end

local function toDue(id, pk, at)
  redis.call('ZADD', DUE, at, id)
  if pk then redis.call('ZADD', part(pk, 'due'), at, id) end
end

local function toReady(key, pk, m)
  redis.call('ZADD', READY, 0, m)
  if pk then redis.call('ZADD', part(pk, 'ready'), 0, m) end
  redis.call('HSET', key, 'r', m)
end

-- Takes the item out of due or ready, wherever it is (m: its ready member, or false).
local function unplace(id, key, pk, m)
  if m then
    redis.call('ZREM', READY, m)
    if pk then redis.call('ZREM', part(pk, 'ready'), m) end
    redis.call('HDEL', key, 'r')
  else
    redis.call('ZREM', DUE, id)
    if pk then redis.call('ZREM', part(pk, 'due'), id) end
  end
end

local function forget(id, key, pk, m)
  unplace(id, key, pk, m)
  redis.call('ZREM', TIMES, id)
  if pk then redis.call('ZREM', part(pk, 'times'), id) end
  redis.call('DEL', key)
end

-- Places an unleased item: ready when it is available now, due otherwise.
local function wait(id, key, pk, priority, availableAt, seq)
  if availableAt <= now then
    toReady(key, pk, member(priority, availableAt, seq, id))
  else
    toDue(id, pk, availableAt)
  end
  setTime(id, pk, availableAt)
end
`;

/**
 * Enqueue many. ARGV[3]: item count, then five values per item: id, payload, priority,
 * availableAt, partition key ("" for none). Returns 1 (created) or 0 (id already queued) per item.
 */
export const ENQUEUE_LUA = `${LIBRARY}
local out = {}
for i = 0, tonumber(ARGV[3]) - 1 do
  local at = 4 + i * 5
  local id = ARGV[at]
  local key = itemKey(id)
  if redis.call('EXISTS', key) == 1 then
    out[i + 1] = 0
  else
    local pk = ARGV[at + 4]
    if pk == '' then pk = false end
    local priority = tonumber(ARGV[at + 2])
    local availableAt = tonumber(ARGV[at + 3])
    local seq = redis.call('HINCRBY', META, 'seq', 1)
    redis.call('HSET', key, 'p', ARGV[at + 1], 'pr', priority, 'av', availableAt, 'eq', now,
      'at', 0, 'sq', seq)
    if pk then redis.call('HSET', key, 'pk', pk) end
    wait(id, key, pk, priority, availableAt, seq)
    out[i + 1] = 1
  end
end
return out
`;

/**
 * Claim. ARGV[3]: limit, ARGV[4]: leaseMs, ARGV[5]: lease id stem (unique per claim call), ARGV[6]: partition key ("" for
 * any). First moves items whose time has come (delayed items, lapsed leases) from due to ready,
 * at most 10,000 per call, then leases the first `limit` ready items. Returns eight values per
 * lease: id, payload, priority, partition key, availableAt, enqueuedAt, attempts, leaseId.
 */
export const CLAIM_LUA = `${LIBRARY}
local limit = tonumber(ARGV[3])
local expires = now + tonumber(ARGV[4])
local filter = ARGV[6]
local dueKey, readyKey = DUE, READY
if filter ~= '' then dueKey, readyKey = part(filter, 'due'), part(filter, 'ready') end

local due = redis.call('ZRANGEBYSCORE', dueKey, '-inf', now, 'LIMIT', 0, 10000)
for _, id in ipairs(due) do
  local key = itemKey(id)
  local f = redis.call('HMGET', key, 'pr', 'av', 'sq', 'pk')
  local pk = f[4]
  redis.call('ZREM', DUE, id)
  if pk then redis.call('ZREM', part(pk, 'due'), id) end
  toReady(key, pk, member(tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), id))
end

local out = {}
local members = redis.call('ZRANGEBYLEX', readyKey, '-', '+', 'LIMIT', 0, limit)
for i, m in ipairs(members) do
  local id = string.sub(m, 40)
  local key = itemKey(id)
  local f = redis.call('HMGET', key, 'pk', 'l', 'p', 'pr', 'av', 'eq')
  local pk = f[1]
  unplace(id, key, pk, m)
  if not f[2] then redis.call('HINCRBY', META, 'leased', 1) end
  local leaseId = ARGV[5] .. '-' .. i
  local attempts = redis.call('HINCRBY', key, 'at', 1)
  redis.call('HSET', key, 'l', leaseId, 'le', expires)
  toDue(id, pk, expires)
  setTime(id, pk, expires)
  local n = #out
  out[n + 1] = id
  out[n + 2] = f[3]
  out[n + 3] = f[4]
  out[n + 4] = pk or ''
  out[n + 5] = f[5]
  out[n + 6] = f[6]
  out[n + 7] = attempts
  out[n + 8] = leaseId
end
return out
`;

/** Ack. ARGV[3]: id, ARGV[4]: leaseId. Returns 1, or 0 when the lease is not held. */
export const ACK_LUA = `${LIBRARY}
local id = ARGV[3]
local key = itemKey(id)
local f = redis.call('HMGET', key, 'l', 'pk', 'r')
if f[1] ~= ARGV[4] then return 0 end
forget(id, key, f[2], f[3])
redis.call('HINCRBY', META, 'leased', -1)
return 1
`;

/**
 * Retry. ARGV[3]: id, ARGV[4]: leaseId, ARGV[5]: availableAt ("" for now). Returns 1, or 0 when
 * the lease is not held. The item keeps its attempts and enqueue order.
 */
export const RETRY_LUA = `${LIBRARY}
local id = ARGV[3]
local key = itemKey(id)
local f = redis.call('HMGET', key, 'l', 'pk', 'r', 'pr', 'sq')
if f[1] ~= ARGV[4] then return 0 end
unplace(id, key, f[2], f[3])
redis.call('HDEL', key, 'l', 'le')
redis.call('HINCRBY', META, 'leased', -1)
local availableAt = now
if ARGV[5] ~= '' then availableAt = tonumber(ARGV[5]) end
redis.call('HSET', key, 'av', availableAt)
wait(id, key, f[2], tonumber(f[4]), availableAt, tonumber(f[5]))
return 1
`;

/**
 * Ack many. ARGV[3]: lease count, then two values per lease: id, leaseId. Returns 1 (acked) or
 * 0 (not held) per lease, in order; leases are judged one after the other, so of two leases on
 * one item at most the item's current one is acked.
 */
export const ACK_MANY_LUA = `${LIBRARY}
local out = {}
local acked = 0
for i = 0, tonumber(ARGV[3]) - 1 do
  local id = ARGV[4 + i * 2]
  local key = itemKey(id)
  local f = redis.call('HMGET', key, 'l', 'pk', 'r')
  if f[1] == ARGV[5 + i * 2] then
    forget(id, key, f[2], f[3])
    acked = acked + 1
    out[i + 1] = 1
  else
    out[i + 1] = 0
  end
end
if acked > 0 then redis.call('HINCRBY', META, 'leased', -acked) end
return out
`;

/**
 * Retry many. ARGV[3]: availableAt ("" for now), ARGV[4]: lease count, then two values per lease:
 * id, leaseId. Returns 1 (released) or 0 (not held) per lease, in order.
 */
export const RETRY_MANY_LUA = `${LIBRARY}
local availableAt = now
if ARGV[3] ~= '' then availableAt = tonumber(ARGV[3]) end
local out = {}
local released = 0
for i = 0, tonumber(ARGV[4]) - 1 do
  local id = ARGV[5 + i * 2]
  local key = itemKey(id)
  local f = redis.call('HMGET', key, 'l', 'pk', 'r', 'pr', 'sq')
  if f[1] == ARGV[6 + i * 2] then
    unplace(id, key, f[2], f[3])
    redis.call('HDEL', key, 'l', 'le')
    redis.call('HSET', key, 'av', availableAt)
    wait(id, key, f[2], tonumber(f[4]), availableAt, tonumber(f[5]))
    released = released + 1
    out[i + 1] = 1
  else
    out[i + 1] = 0
  end
end
if released > 0 then redis.call('HINCRBY', META, 'leased', -released) end
return out
`;

/**
 * Extend. ARGV[3]: id, ARGV[4]: leaseId, ARGV[5]: leaseMs. Returns the new expiry, or -1 when
 * the lease is not held.
 */
export const EXTEND_LUA = `${LIBRARY}
local id = ARGV[3]
local key = itemKey(id)
local f = redis.call('HMGET', key, 'l', 'pk', 'r')
if f[1] ~= ARGV[4] then return -1 end
unplace(id, key, f[2], f[3])
local expires = now + tonumber(ARGV[5])
redis.call('HSET', key, 'le', expires)
toDue(id, f[2], expires)
setTime(id, f[2], expires)
return expires
`;

/**
 * Release owner. ARGV[3]: the owner's lease-id prefix. Every item in `due` under a lease whose
 * id starts with it is released as by retry, available now. Returns how many were released.
 * Scans `due` whole (delayed items included): it runs once when a claimer restarts. A lapsed
 * lease already moved to `ready` is claimable anyway and is left as it is.
 */
export const RELEASE_OWNER_LUA = `${LIBRARY}
local prefix = ARGV[3]
local released = 0
for _, id in ipairs(redis.call('ZRANGE', DUE, 0, -1)) do
  local key = itemKey(id)
  local f = redis.call('HMGET', key, 'l', 'pk', 'r', 'pr', 'sq')
  if f[1] and string.sub(f[1], 1, #prefix) == prefix then
    unplace(id, key, f[2], f[3])
    redis.call('HDEL', key, 'l', 'le')
    redis.call('HSET', key, 'av', now)
    wait(id, key, f[2], tonumber(f[4]), now, tonumber(f[5]))
    released = released + 1
  end
end
if released > 0 then redis.call('HINCRBY', META, 'leased', -released) end
return released
`;

/** Remove. ARGV[3]: id. Returns 1 when the item existed, else 0. */
export const REMOVE_LUA = `${LIBRARY}
local id = ARGV[3]
local key = itemKey(id)
local f = redis.call('HMGET', key, 'sq', 'l', 'pk', 'r')
if not f[1] then return 0 end
if f[2] then redis.call('HINCRBY', META, 'leased', -1) end
forget(id, key, f[3], f[4])
return 1
`;

/** Counts. Returns { item count, leased count }. */
export const COUNTS_LUA = `
return {redis.call('ZCARD', KEYS[3]), tonumber(redis.call('HGET', KEYS[4], 'leased') or '0')}
`;
