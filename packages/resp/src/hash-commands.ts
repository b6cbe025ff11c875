import type { KeyCommand } from "./key-command.js";
import { emptyRecord, inInt64, integerReply, type KeyState, parseInt64 } from "./key-state.js";
import { arityError, NOT_INTEGER, type Reply, WRONGTYPE } from "./reply.js";

type HashState = Extract<KeyState, { t: "hash" }>;

function hashOf(state: KeyState): HashState | undefined | "wrong" {
  if (state.t === "none") return undefined;
  return state.t === "hash" ? state : "wrong";
}

function has(record: Record<string, string>, field: string): boolean {
  return Object.hasOwn(record, field);
}

/** `HSET key field value [field value …]`: the number of fields added. */
export const hset: KeyCommand = {
  readOnly: false,
  minArgs: 2,
  run: (state, args) => {
    if (args.length % 2 !== 0) return { reply: arityError("hset") };
    const hash = hashOf(state);
    if (hash === "wrong") return { reply: WRONGTYPE };
    const target: HashState = hash ?? { t: "hash", v: emptyRecord() };
    let added = 0;
    for (let index = 0; index < args.length; index += 2) {
      const field = args[index] as string;
      if (!has(target.v, field)) added++;
      target.v[field] = args[index + 1] as string;
    }
    return { reply: added, state: target };
  },
};

/** `HGET key field` */
export const hget: KeyCommand = {
  readOnly: true,
  minArgs: 1,
  maxArgs: 1,
  run: (state, args) => {
    const hash = hashOf(state);
    if (hash === "wrong") return { reply: WRONGTYPE };
    const field = args[0] as string;
    return { reply: hash !== undefined && has(hash.v, field) ? (hash.v[field] as string) : null };
  },
};

/** `HMGET key field [field …]` */
export const hmget: KeyCommand = {
  readOnly: true,
  minArgs: 1,
  run: (state, args) => {
    const hash = hashOf(state);
    if (hash === "wrong") return { reply: WRONGTYPE };
    return {
      reply: args.map((field) =>
        hash !== undefined && has(hash.v, field) ? (hash.v[field] as string) : null,
      ),
    };
  },
};

/** `HGETALL key`: a map (RESP3) or a flat field/value array (RESP2). */
export const hgetall: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state) => {
    const hash = hashOf(state);
    if (hash === "wrong") return { reply: WRONGTYPE };
    const map: Reply[] = [];
    if (hash !== undefined) for (const field in hash.v) map.push(field, hash.v[field] as string);
    return { reply: { map } };
  },
};

/** `HDEL key field [field …]`: the number removed; an emptied hash is deleted. */
export const hdel: KeyCommand = {
  readOnly: false,
  minArgs: 1,
  run: (state, args) => {
    const hash = hashOf(state);
    if (hash === "wrong") return { reply: WRONGTYPE };
    if (hash === undefined) return { reply: 0 };
    let removed = 0;
    for (const field of args) {
      if (has(hash.v, field)) {
        delete hash.v[field];
        removed++;
      }
    }
    if (removed === 0) return { reply: 0 };
    for (const _ in hash.v) return { reply: removed, state: hash };
    return { reply: removed, state: { t: "none" } };
  },
};

/** `HINCRBY key field delta` */
export const hincrby: KeyCommand = {
  readOnly: false,
  minArgs: 2,
  maxArgs: 2,
  run: (state, args) => {
    const hash = hashOf(state);
    if (hash === "wrong") return { reply: WRONGTYPE };
    const delta = parseInt64(args[1] as string);
    if (delta === undefined) return { reply: NOT_INTEGER };
    const field = args[0] as string;
    const target: HashState = hash ?? { t: "hash", v: emptyRecord() };
    const current = has(target.v, field) ? parseInt64(target.v[field] as string) : 0n;
    if (current === undefined) return { reply: { error: "ERR hash value is not an integer" } };
    const result = current + delta;
    if (!inInt64(result)) return { reply: { error: "ERR increment or decrement would overflow" } };
    target.v[field] = result.toString();
    return { reply: integerReply(result), state: target };
  },
};

/** `HLEN key` */
export const hlen: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state) => {
    const hash = hashOf(state);
    if (hash === "wrong") return { reply: WRONGTYPE };
    if (hash === undefined) return { reply: 0 };
    let count = 0;
    for (const _ in hash.v) count++;
    return { reply: count };
  },
};
