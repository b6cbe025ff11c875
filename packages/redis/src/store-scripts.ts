// Lua scripts of the Redis store. Every script is atomic in Redis, so a commit is applied
// entirely or not at all, and reads see one instant.
//
// KEYS of every script, in this order: index (sorted set, all members at score 0, ordered by
// their bytes), values (hash key -> bytes), versions (hash key -> version), counter (string).

/**
 * Commit. ARGV: op count, then per op four values: type ("set" | "delete" | "check"), key,
 * expectation ("" none, "absent", or a version), value ("" unless set).
 * Returns the new version (0 when nothing is written), or { op index, actual version or "absent" }
 * for the first failed guard, having written nothing.
 */
export const COMMIT_LUA = `
local count = tonumber(ARGV[1])
local writes = false
for i = 0, count - 1 do
  local at = 2 + i * 4
  local expect = ARGV[at + 2]
  if expect ~= '' then
    local current = redis.call('HGET', KEYS[3], ARGV[at + 1])
    if expect == 'absent' then
      if current then return {i, current} end
    elseif current ~= expect then
      return {i, current or 'absent'}
    end
  end
  if ARGV[at] ~= 'check' then writes = true end
end
if not writes then return 0 end
local version = redis.call('INCR', KEYS[4])
for i = 0, count - 1 do
  local at = 2 + i * 4
  local kind = ARGV[at]
  local key = ARGV[at + 1]
  if kind == 'set' then
    redis.call('HSET', KEYS[2], key, ARGV[at + 3])
    if redis.call('HSET', KEYS[3], key, version) == 1 then
      redis.call('ZADD', KEYS[1], 0, key)
    end
  elseif kind == 'delete' then
    if redis.call('HDEL', KEYS[3], key) == 1 then
      redis.call('HDEL', KEYS[2], key)
      redis.call('ZREM', KEYS[1], key)
    end
  end
end
return version
`;

/**
 * Get many. ARGV: the keys. Returns two values per key: the version ("" when absent) and the value.
 */
export const GET_MANY_LUA = `
local out = {}
for i, key in ipairs(ARGV) do
  local version = redis.call('HGET', KEYS[3], key)
  if version then
    out[2 * i - 1] = version
    out[2 * i] = redis.call('HGET', KEYS[2], key)
  else
    out[2 * i - 1] = ''
    out[2 * i] = ''
  end
end
return out
`;

/**
 * List. ARGV: lex min ("-" or "[" .. key), lex max ("+" or "(" .. key), limit ("" for all),
 * reverse ("1" or "0"). Returns three values per entry: key, version, value.
 */
export const LIST_LUA = `
local keys
local limit = ARGV[3]
if ARGV[4] == '1' then
  if limit == '' then
    keys = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], ARGV[1])
  else
    keys = redis.call('ZREVRANGEBYLEX', KEYS[1], ARGV[2], ARGV[1], 'LIMIT', 0, limit)
  end
else
  if limit == '' then
    keys = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2])
  else
    keys = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, limit)
  end
end
local out = {}
for i, key in ipairs(keys) do
  out[3 * i - 2] = key
  out[3 * i - 1] = redis.call('HGET', KEYS[3], key)
  out[3 * i] = redis.call('HGET', KEYS[2], key)
end
return out
`;
