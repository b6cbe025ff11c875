import type { KeyCommand } from "./key-command.js";
import {
  ABSENT,
  inInt64,
  integerReply,
  type KeyState,
  parseInt64,
  parseSafeInt,
} from "./key-state.js";
import { NOT_INTEGER, OK, SYNTAX_ERROR, WRONGTYPE } from "./reply.js";

const INVALID_EXPIRE = (name: string) => ({
  error: `ERR invalid expire time in '${name}' command`,
});

/** `GET key` */
export const get: KeyCommand = {
  readOnly: true,
  run: (state) => {
    if (state.t === "none") return { reply: null };
    if (state.t !== "string") return { reply: WRONGTYPE };
    return { reply: state.v };
  },
};

/** `STRLEN key` */
export const strlen: KeyCommand = {
  readOnly: true,
  run: (state) => {
    if (state.t === "none") return { reply: 0 };
    if (state.t !== "string") return { reply: WRONGTYPE };
    return { reply: Buffer.byteLength(state.v, "utf8") };
  },
};

/** `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]` */
export const set: KeyCommand = {
  readOnly: false,
  minArgs: 1,
  run: (state, args, now) => {
    const value = args[0] as string;
    let condition: "NX" | "XX" | undefined;
    let returnOld = false;
    let expiresAt: number | undefined;
    let keepTtl = false;
    let sawExpiry = false;
    for (let index = 1; index < args.length; index++) {
      const option = (args[index] as string).toUpperCase();
      if ((option === "NX" || option === "XX") && condition === undefined) condition = option;
      else if (option === "GET" && !returnOld) returnOld = true;
      else if (option === "KEEPTTL" && !sawExpiry) {
        keepTtl = true;
        sawExpiry = true;
      } else if (
        (option === "EX" || option === "PX" || option === "EXAT" || option === "PXAT") &&
        !sawExpiry
      ) {
        const text = args[++index];
        if (text === undefined) return { reply: SYNTAX_ERROR };
        const amount = parseSafeInt(text);
        if (amount === undefined) return { reply: NOT_INTEGER };
        if (amount <= 0) return { reply: INVALID_EXPIRE("set") };
        sawExpiry = true;
        expiresAt =
          option === "EX"
            ? now + amount * 1000
            : option === "PX"
              ? now + amount
              : option === "EXAT"
                ? amount * 1000
                : amount;
      } else return { reply: SYNTAX_ERROR };
    }
    if (returnOld && state.t !== "none" && state.t !== "string") return { reply: WRONGTYPE };
    const old = state.t === "string" ? state.v : null;
    const okReply = returnOld ? old : OK;
    if (condition === "NX" && state.t !== "none") return { reply: returnOld ? old : null };
    if (condition === "XX" && state.t === "none") return { reply: returnOld ? old : null };
    const next: KeyState = { t: "string", v: value };
    if (expiresAt !== undefined) next.x = expiresAt;
    else if (keepTtl && state.t !== "none" && state.x !== undefined) next.x = state.x;
    return { reply: okReply, state: next };
  },
};

/** `GETDEL key` */
export const getdel: KeyCommand = {
  readOnly: false,
  run: (state) => {
    if (state.t === "none") return { reply: null };
    if (state.t !== "string") return { reply: WRONGTYPE };
    return { reply: state.v, state: ABSENT };
  },
};

/** `APPEND key value` */
export const append: KeyCommand = {
  readOnly: false,
  minArgs: 1,
  maxArgs: 1,
  run: (state, args) => {
    if (state.t !== "none" && state.t !== "string") return { reply: WRONGTYPE };
    const value = (state.t === "string" ? state.v : "") + (args[0] as string);
    const next: KeyState = { t: "string", v: value };
    if (state.t === "string" && state.x !== undefined) next.x = state.x;
    return { reply: Buffer.byteLength(value, "utf8"), state: next };
  },
};

const SMALL_INT = /^-?(0|[1-9]\d{0,14})$/;

function incrementBy(state: KeyState, delta: bigint) {
  if (state.t !== "none" && state.t !== "string") return { reply: WRONGTYPE };
  // Counters far from the 64-bit limits (the usual case) skip bigint arithmetic.
  if (delta > -1000000n && delta < 1000000n && (state.t === "none" || SMALL_INT.test(state.v))) {
    const result = (state.t === "none" ? 0 : Number(state.v)) + Number(delta);
    const next: KeyState = { t: "string", v: String(result) };
    if (state.t === "string" && state.x !== undefined) next.x = state.x;
    return { reply: result, state: next };
  }
  const current = state.t === "string" ? parseInt64(state.v) : 0n;
  if (current === undefined) return { reply: NOT_INTEGER };
  const result = current + delta;
  if (!inInt64(result)) return { reply: { error: "ERR increment or decrement would overflow" } };
  const next: KeyState = { t: "string", v: result.toString() };
  if (state.t === "string" && state.x !== undefined) next.x = state.x;
  return { reply: integerReply(result), state: next };
}

/** `INCR key` */
export const incr: KeyCommand = {
  readOnly: false,
  maxArgs: 0,
  run: (state) => incrementBy(state, 1n),
};

/** `DECR key` */
export const decr: KeyCommand = {
  readOnly: false,
  maxArgs: 0,
  run: (state) => incrementBy(state, -1n),
};

/** `INCRBY key delta` */
export const incrby: KeyCommand = {
  readOnly: false,
  minArgs: 1,
  maxArgs: 1,
  run: (state, args) => {
    const delta = parseInt64(args[0] as string);
    return delta === undefined ? { reply: NOT_INTEGER } : incrementBy(state, delta);
  },
};

/** `DECRBY key delta` */
export const decrby: KeyCommand = {
  readOnly: false,
  minArgs: 1,
  maxArgs: 1,
  run: (state, args) => {
    const delta = parseInt64(args[0] as string);
    return delta === undefined ? { reply: NOT_INTEGER } : incrementBy(state, -delta);
  },
};
