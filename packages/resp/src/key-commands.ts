import type { KeyCommand } from "./key-command.js";
import { ABSENT, type KeyState, parseSafeInt } from "./key-state.js";
import { NOT_INTEGER, SYNTAX_ERROR } from "./reply.js";

/** `DEL key` (one key; the server fans a multi-key DEL out and adds the replies). */
export const del: KeyCommand = {
  readOnly: false,
  maxArgs: 0,
  run: (state) => (state.t === "none" ? { reply: 0 } : { reply: 1, state: ABSENT }),
};

/** `EXISTS key` (one key). */
export const exists: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state) => ({ reply: state.t === "none" ? 0 : 1 }),
};

/** `TYPE key` */
export const type: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state) => ({ reply: { simple: state.t } }),
};

function ttl(state: KeyState, now: number, unitMs: number) {
  if (state.t === "none") return { reply: -2 };
  if (state.x === undefined) return { reply: -1 };
  const left = Math.max(0, state.x - now);
  return { reply: unitMs === 1 ? left : Math.round(left / unitMs) };
}

/** `TTL key`: seconds left, -1 without expiry, -2 when absent. */
export const ttlSeconds: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state, _args, now) => ttl(state, now, 1000),
};

/** `PTTL key`: milliseconds left, -1 without expiry, -2 when absent. */
export const ttlMs: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state, _args, now) => ttl(state, now, 1),
};

function expireCommand(unitMs: number, name: string): KeyCommand {
  return {
    readOnly: false,
    minArgs: 1,
    maxArgs: 2,
    run: (state, args, now) => {
      const amount = parseSafeInt(args[0] as string);
      if (amount === undefined) return { reply: NOT_INTEGER };
      const option = args[1]?.toUpperCase();
      if (option !== undefined && !["NX", "XX", "GT", "LT"].includes(option)) {
        return { reply: { error: `ERR Unsupported option ${args[1]}` } };
      }
      const at = now + amount * unitMs;
      if (!Number.isSafeInteger(at)) {
        return { reply: { error: `ERR invalid expire time in '${name}' command` } };
      }
      if (state.t === "none") return { reply: 0 };
      const current = state.x;
      if (option === "NX" && current !== undefined) return { reply: 0 };
      if (option === "XX" && current === undefined) return { reply: 0 };
      // A key without expiry counts as an infinite TTL for GT and LT, as in Redis.
      if (option === "GT" && (current === undefined || at <= current)) return { reply: 0 };
      if (option === "LT" && current !== undefined && at >= current) return { reply: 0 };
      if (at <= now) return { reply: 1, state: ABSENT };
      state.x = at;
      return { reply: 1, state };
    },
  };
}

/** `EXPIRE key seconds [NX|XX|GT|LT]` */
export const expire = expireCommand(1000, "expire");

/** `PEXPIRE key ms [NX|XX|GT|LT]` */
export const pexpire = expireCommand(1, "pexpire");

/** `PERSIST key` */
export const persist: KeyCommand = {
  readOnly: false,
  maxArgs: 0,
  run: (state) => {
    if (state.t === "none" || state.x === undefined) return { reply: 0 };
    delete state.x;
    return { reply: 1, state };
  },
};

export { SYNTAX_ERROR };
