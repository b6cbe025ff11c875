import type { KeyCommand } from "./key-command.js";
import { emptyRecord, type KeyState } from "./key-state.js";
import { WRONGTYPE } from "./reply.js";

type SetState = Extract<KeyState, { t: "set" }>;

function setOf(state: KeyState): SetState | undefined | "wrong" {
  if (state.t === "none") return undefined;
  return state.t === "set" ? state : "wrong";
}

/** `SADD key member [member …]`: the number added. */
export const sadd: KeyCommand = {
  readOnly: false,
  minArgs: 1,
  run: (state, args) => {
    const members = setOf(state);
    if (members === "wrong") return { reply: WRONGTYPE };
    const target: SetState = members ?? { t: "set", v: emptyRecord() };
    let added = 0;
    for (const member of args) {
      if (!Object.hasOwn(target.v, member)) {
        target.v[member] = 1;
        added++;
      }
    }
    return added === 0 ? { reply: 0 } : { reply: added, state: target };
  },
};

/** `SREM key member [member …]`: the number removed; an emptied set is deleted. */
export const srem: KeyCommand = {
  readOnly: false,
  minArgs: 1,
  run: (state, args) => {
    const members = setOf(state);
    if (members === "wrong") return { reply: WRONGTYPE };
    if (members === undefined) return { reply: 0 };
    let removed = 0;
    for (const member of args) {
      if (Object.hasOwn(members.v, member)) {
        delete members.v[member];
        removed++;
      }
    }
    if (removed === 0) return { reply: 0 };
    for (const _ in members.v) return { reply: removed, state: members };
    return { reply: removed, state: { t: "none" } };
  },
};

/** `SMEMBERS key`: a set (RESP3) or an array (RESP2). */
export const smembers: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state) => {
    const members = setOf(state);
    if (members === "wrong") return { reply: WRONGTYPE };
    return { reply: { set: members === undefined ? [] : Object.keys(members.v) } };
  },
};

/** `SISMEMBER key member` */
export const sismember: KeyCommand = {
  readOnly: true,
  minArgs: 1,
  maxArgs: 1,
  run: (state, args) => {
    const members = setOf(state);
    if (members === "wrong") return { reply: WRONGTYPE };
    return { reply: members !== undefined && Object.hasOwn(members.v, args[0] as string) ? 1 : 0 };
  },
};

/** `SCARD key` */
export const scard: KeyCommand = {
  readOnly: true,
  maxArgs: 0,
  run: (state) => {
    const members = setOf(state);
    if (members === "wrong") return { reply: WRONGTYPE };
    return { reply: members === undefined ? 0 : Object.keys(members.v).length };
  },
};
