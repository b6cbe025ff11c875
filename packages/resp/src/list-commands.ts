import type { KeyCommand } from "./key-command.js";
import type { KeyState } from "./key-state.js";
import { parseSafeInt } from "./key-state.js";
import { NOT_INTEGER, type Reply, WRONGTYPE } from "./reply.js";

type ListState = Extract<KeyState, { t: "list" }>;

function listOf(state: KeyState): ListState | undefined | "wrong" {
  if (state.t === "none") return undefined;
  return state.t === "list" ? state : "wrong";
}

function push(head: boolean): KeyCommand {
  return {
    readOnly: false,
    minArgs: 1,
    run: (state, args) => {
      const list = listOf(state);
      if (list === "wrong") return { reply: WRONGTYPE };
      const target: ListState = list ?? { t: "list", v: [] };
      if (head) for (const value of args) target.v.unshift(value);
      else for (const value of args) target.v.push(value);
      return { reply: target.v.length, state: target };
    },
  };
}

/** `LPUSH key value [value …]`: the new length. */
export const lpush = push(true);

/** `RPUSH key value [value …]`: the new length. */
export const rpush = push(false);

function pop(head: boolean): KeyCommand {
  return {
    readOnly: false,
    maxArgs: 1,
    run: (state, args) => {
      const list = listOf(state);
      if (list === "wrong") return { reply: WRONGTYPE };
      let count: number | undefined;
      if (args[0] !== undefined) {
        count = parseSafeInt(args[0]);
        if (count === undefined || count < 0) {
          return { reply: { error: "ERR value is out of range, must be positive" } };
        }
      }
      if (list === undefined) return { reply: count === undefined ? null : { nullArray: true } };
      const taken =
        count === undefined
          ? [head ? list.v.shift() : list.v.pop()]
          : head
            ? list.v.splice(0, count)
            : list.v.splice(Math.max(0, list.v.length - count)).reverse();
      const next: KeyState = list.v.length === 0 ? { t: "none" } : list;
      if (count === undefined) return { reply: taken[0] ?? null, state: next };
      return { reply: taken as Reply[], state: next };
    },
  };
}

/** `LPOP key [count]` */
export const lpop = pop(true);

/** `RPOP key [count]` */
export const rpop = pop(false);

/** `LRANGE key start stop` (inclusive; negative indexes count from the end). */
export const lrange: KeyCommand = {
  readOnly: true,
  minArgs: 2,
  maxArgs: 2,
  run: (state, args) => {
    const list = listOf(state);
    if (list === "wrong") return { reply: WRONGTYPE };
    let start = parseSafeInt(args[0] as string);
    let stop = parseSafeInt(args[1] as string);
    if (start === undefined || stop === undefined) return { reply: NOT_INTEGER };
    if (list === undefined) return { reply: [] };
    const length = list.v.length;
    if (start < 0) start = Math.max(0, length + start);
    if (stop < 0) stop = length + stop;
    if (stop >= length) stop = length - 1;
    if (start > stop) return { reply: [] };
    return { reply: list.v.slice(start, stop + 1) };
  },
};

/** `LLEN key` */
export const llen: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state) => {
    const list = listOf(state);
    if (list === "wrong") return { reply: WRONGTYPE };
    return { reply: list === undefined ? 0 : list.v.length };
  },
};
