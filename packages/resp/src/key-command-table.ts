import * as hashes from "./hash-commands.js";
import type { KeyCommand, KeyCommandResult } from "./key-command.js";
import * as keys from "./key-commands.js";
import { type KeyState, liveState } from "./key-state.js";
import * as lists from "./list-commands.js";
import { arityError } from "./reply.js";
import * as sets from "./set-commands.js";
import * as strings from "./string-commands.js";

/** Every command that works on one key, by upper-case name. */
export const KEY_COMMANDS: ReadonlyMap<string, KeyCommand> = new Map<string, KeyCommand>([
  ["GET", strings.get],
  ["SET", strings.set],
  ["STRLEN", strings.strlen],
  ["GETDEL", strings.getdel],
  ["APPEND", strings.append],
  ["INCR", strings.incr],
  ["DECR", strings.decr],
  ["INCRBY", strings.incrby],
  ["DECRBY", strings.decrby],
  ["DEL", keys.del],
  ["EXISTS", keys.exists],
  ["TYPE", keys.type],
  ["TTL", keys.ttlSeconds],
  ["PTTL", keys.ttlMs],
  ["EXPIRE", keys.expire],
  ["PEXPIRE", keys.pexpire],
  ["PERSIST", keys.persist],
  ["HSET", hashes.hset],
  ["HGET", hashes.hget],
  ["HMGET", hashes.hmget],
  ["HGETALL", hashes.hgetall],
  ["HDEL", hashes.hdel],
  ["HINCRBY", hashes.hincrby],
  ["HLEN", hashes.hlen],
  ["LPUSH", lists.lpush],
  ["RPUSH", lists.rpush],
  ["LPOP", lists.lpop],
  ["RPOP", lists.rpop],
  ["LRANGE", lists.lrange],
  ["LLEN", lists.llen],
  ["SADD", sets.sadd],
  ["SREM", sets.srem],
  ["SMEMBERS", sets.smembers],
  ["SISMEMBER", sets.sismember],
  ["SCARD", sets.scard],
]);

/**
 * Runs the one-key command `name` (upper case) with `args` (after the key) on `state` at `now`:
 * checks the argument count, hides an expired value, and returns the reply and the new state.
 */
export function executeKeyCommand(
  state: KeyState,
  name: string,
  args: readonly string[],
  now: number,
): KeyCommandResult {
  const command = KEY_COMMANDS.get(name);
  if (command === undefined) return { reply: { error: `ERR unknown command '${name}'` } };
  if (args.length < (command.minArgs ?? 0) || args.length > (command.maxArgs ?? Infinity)) {
    return { reply: arityError(name) };
  }
  const live = liveState(state, now);
  const result = command.run(live, args, now);
  // An expired value that a command did not replace is gone now: say so, so it is dropped.
  if (result.state === undefined && live !== state && !command.readOnly) {
    return { reply: result.reply, state: live };
  }
  return result;
}
