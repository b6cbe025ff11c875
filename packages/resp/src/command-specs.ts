import type { Reply } from "./reply.js";

/** What `COMMAND` tells a client about one command (the classic six fields). */
export interface CommandSpec {
  /** Lower-case name. */
  readonly name: string;
  /** Argument count including the name; negative: at least that many. */
  readonly arity: number;
  /** Flags such as `write`, `readonly`, `fast`, `pubsub`. */
  readonly flags: readonly string[];
  /** Position of the first key (0: none). */
  readonly firstKey: number;
  /** Position of the last key (-1: the last argument). */
  readonly lastKey: number;
  /** Step between keys. */
  readonly step: number;
}

const spec = (
  name: string,
  arity: number,
  flags: string,
  firstKey = 0,
  lastKey = 0,
  step = 0,
): CommandSpec => ({
  name,
  arity,
  flags: flags.split(" ").filter(Boolean),
  firstKey,
  lastKey,
  step,
});

/** Every command the server answers. */
export const COMMAND_SPECS: readonly CommandSpec[] = [
  spec("ping", -1, "fast stale"),
  spec("echo", 2, "fast stale"),
  spec("hello", -1, "noauth fast stale"),
  spec("auth", -2, "noauth fast stale"),
  spec("select", 2, "fast stale"),
  spec("client", -2, "stale"),
  spec("quit", -1, "noauth fast"),
  spec("reset", 1, "noauth fast"),
  spec("info", -1, "stale"),
  spec("command", -1, "stale"),
  spec("config", -2, "admin noscript loading stale"),
  spec("get", 2, "readonly fast", 1, 1, 1),
  spec("set", -3, "write denyoom", 1, 1, 1),
  spec("mget", -2, "readonly fast", 1, -1, 1),
  spec("mset", -3, "write denyoom", 1, -1, 2),
  spec("incr", 2, "write denyoom fast", 1, 1, 1),
  spec("incrby", 3, "write denyoom fast", 1, 1, 1),
  spec("decr", 2, "write denyoom fast", 1, 1, 1),
  spec("decrby", 3, "write denyoom fast", 1, 1, 1),
  spec("append", 3, "write denyoom fast", 1, 1, 1),
  spec("strlen", 2, "readonly fast", 1, 1, 1),
  spec("getdel", 2, "write fast", 1, 1, 1),
  spec("del", -2, "write", 1, -1, 1),
  spec("exists", -2, "readonly fast", 1, -1, 1),
  spec("expire", -3, "write fast", 1, 1, 1),
  spec("pexpire", -3, "write fast", 1, 1, 1),
  spec("ttl", 2, "readonly fast", 1, 1, 1),
  spec("pttl", 2, "readonly fast", 1, 1, 1),
  spec("persist", 2, "write fast", 1, 1, 1),
  spec("type", 2, "readonly fast", 1, 1, 1),
  spec("scan", -2, "readonly"),
  spec("hset", -4, "write denyoom fast", 1, 1, 1),
  spec("hget", 3, "readonly fast", 1, 1, 1),
  spec("hmget", -3, "readonly fast", 1, 1, 1),
  spec("hgetall", 2, "readonly", 1, 1, 1),
  spec("hdel", -3, "write fast", 1, 1, 1),
  spec("hincrby", 4, "write denyoom fast", 1, 1, 1),
  spec("hlen", 2, "readonly fast", 1, 1, 1),
  spec("lpush", -3, "write denyoom fast", 1, 1, 1),
  spec("rpush", -3, "write denyoom fast", 1, 1, 1),
  spec("lpop", -2, "write fast", 1, 1, 1),
  spec("rpop", -2, "write fast", 1, 1, 1),
  spec("lrange", 4, "readonly", 1, 1, 1),
  spec("llen", 2, "readonly fast", 1, 1, 1),
  spec("sadd", -3, "write denyoom fast", 1, 1, 1),
  spec("srem", -3, "write fast", 1, 1, 1),
  spec("smembers", 2, "readonly", 1, 1, 1),
  spec("sismember", 3, "readonly fast", 1, 1, 1),
  spec("scard", 2, "readonly fast", 1, 1, 1),
  spec("publish", 3, "pubsub loading stale fast"),
  spec("subscribe", -2, "pubsub noscript loading stale"),
  spec("psubscribe", -2, "pubsub noscript loading stale"),
  spec("unsubscribe", -1, "pubsub noscript loading stale"),
  spec("punsubscribe", -1, "pubsub noscript loading stale"),
  spec("multi", 1, "noscript loading stale fast"),
  spec("exec", 1, "noscript loading stale skip_slowlog"),
  spec("discard", 1, "noscript loading stale fast"),
  spec("actor.call", -4, "write"),
  spec("event.send", 3, "write"),
];

const BY_NAME = new Map(COMMAND_SPECS.map((entry) => [entry.name.toUpperCase(), entry]));

/** The spec of a command by upper-case name. */
export function commandSpec(name: string): CommandSpec | undefined {
  return BY_NAME.get(name);
}

/** A command's `COMMAND INFO` entry (the classic fields plus empty categories, tips, specs). */
export function commandInfoReply(entry: CommandSpec): Reply {
  return [
    entry.name,
    entry.arity,
    { set: entry.flags.map((flag) => ({ simple: flag })) },
    entry.firstKey,
    entry.lastKey,
    entry.step,
    { set: [] },
    { set: [] },
    [],
    [],
  ];
}
