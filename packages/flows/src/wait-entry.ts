import { createJsonCodec } from "@troupe/core";
import type { FlowEvent } from "./event.js";

/**
 * A registration in the Store under `<prefix>w/<event name>/`: a run's `step.waitForEvent` or one
 * of its `cancelOn` rules, matched against every incoming event of that name.
 */
export interface WaitEntry {
  /** A step waiting for the event, or a rule cancelling the run. */
  readonly kind: "wait" | "cancel";
  readonly runId: string;
  /** The waiting step's hash (waits only). */
  readonly hash?: string;
  /** The CEL condition over `event` (the trigger) and `async` (the candidate). */
  readonly condition?: string;
  /** The run's triggering event, kept for the condition. */
  readonly triggerEvent?: FlowEvent;
  /** When the registration stops matching, ms. */
  readonly expiresAt: number;
}

/** The stored form: short fields, since one entry is listed for every event of its name. */
interface StoredWaitEntry {
  readonly k: "w" | "c";
  readonly r: string;
  readonly h?: string;
  readonly if?: string;
  readonly ev?: FlowEvent;
  readonly exp: number;
}

const codec = createJsonCodec<unknown>();

/** The bytes of a wait entry. */
export function encodeWaitEntry(entry: WaitEntry): Uint8Array {
  const stored: StoredWaitEntry = {
    k: entry.kind === "wait" ? "w" : "c",
    r: entry.runId,
    ...(entry.hash === undefined ? {} : { h: entry.hash }),
    ...(entry.condition === undefined ? {} : { if: entry.condition }),
    ...(entry.triggerEvent === undefined ? {} : { ev: entry.triggerEvent }),
    exp: entry.expiresAt,
  };
  return codec.encode(stored);
}

/** A wait entry from its bytes. */
export function decodeWaitEntry(bytes: Uint8Array): WaitEntry {
  const stored = codec.decode(bytes) as StoredWaitEntry;
  return {
    kind: stored.k === "w" ? "wait" : "cancel",
    runId: stored.r,
    ...(stored.h === undefined ? {} : { hash: stored.h }),
    ...(stored.if === undefined ? {} : { condition: stored.if }),
    ...(stored.ev === undefined ? {} : { triggerEvent: stored.ev }),
    expiresAt: stored.exp,
  };
}
