import type { Store } from "@troupe/core";
import type { FunctionDefinition } from "../function.js";
import { listPendingBatches, type PendingBatch } from "./batch.js";
import { slotPrefix } from "./concurrency.js";
import { listPendingDebounces, type PendingDebounce } from "./debounce.js";
import { statePrefix } from "./parse-option.js";
import { decodeSlot } from "./slot-record.js";
import { decodeThrottle, throttledCount } from "./throttle.js";

/** Keys listed per limit at most: state is for people, and a dashboard shows the busiest. */
const MAX_KEYS = 1000;

/** One concurrency key of a function as it stands. */
export interface ConcurrencyKeyState {
  /** Which of the function's limits (0 or 1). */
  readonly index: number;
  /** `fn` or `env` (shared by every function using the same key value). */
  readonly scope: "fn" | "env";
  /** The key's value ("" for an unkeyed limit). */
  readonly key: string;
  /** Steps executing now (live slot holders). */
  readonly active: number;
  /** The limit. */
  readonly limit: number;
  /** Items waiting for a slot (parked, or admitted and on their way to a worker). */
  readonly queued: number;
}

/** One throttle key with runs waiting for their start. */
export interface ThrottleKeyState {
  /** The key's value ("" without a key). */
  readonly key: string;
  /** Runs whose throttled start is still ahead. */
  readonly queued: number;
}

/** A function's flow-control state, for `flows.getFlowControlState(functionId)`. */
export interface FlowControlState {
  /** Concurrency keys in use (at most 1000 per limit): only keys with a holder or a backlog exist. */
  readonly concurrency: readonly ConcurrencyKeyState[];
  /** Throttled runs waiting to start, in total and per key; undefined without `throttle`. */
  readonly throttle?: { readonly queued: number; readonly keys: readonly ThrottleKeyState[] };
  /** Pending debounces (filled by the debounce reader). */
  readonly debounces: readonly PendingDebounce[];
  /** Pending batches (filled by the batch reader). */
  readonly batches: readonly PendingBatch[];
}

/** What the reader needs. */
export interface FlowControlStateDeps {
  readonly store: Store;
  readonly prefix: string;
  readonly now: number;
  readonly definition: FunctionDefinition | undefined;
}

/** Reads a function's flow-control state from the Store. */
export async function readFlowControlState(
  deps: FlowControlStateDeps,
  functionId: string,
): Promise<FlowControlState> {
  const { store, prefix, now, definition } = deps;
  const concurrency: ConcurrencyKeyState[] = [];
  for (const [index, limit] of (definition?.concurrency ?? []).entries()) {
    const listed = await store.list({
      prefix: slotPrefix(prefix, limit.scope, functionId),
      limit: MAX_KEYS,
    });
    for (const entry of listed) {
      const record = decodeSlot(entry.value, "");
      let active = 0;
      for (const expiry of Object.values(record.holders)) if (expiry > now) active++;
      let admitted = 0;
      for (const reservation of Object.values(record.reservations))
        if (reservation.expiresAt > now && reservation.parkKey === "") admitted++;
      concurrency.push({
        index,
        scope: limit.scope,
        key: record.keyValue,
        active,
        limit: limit.limit,
        queued: record.parked + admitted,
      });
    }
  }
  let throttle: FlowControlState["throttle"];
  if (definition?.throttle) {
    const config = definition.throttle;
    const listed = await store.list({
      prefix: statePrefix(prefix, "t", functionId),
      limit: MAX_KEYS,
    });
    const keys: ThrottleKeyState[] = [];
    for (const entry of listed) {
      const state = decodeThrottle(entry.value);
      const queued = throttledCount(config, state, now);
      if (queued > 0) keys.push({ key: state.v, queued });
    }
    throttle = { queued: keys.reduce((sum, key) => sum + key.queued, 0), keys };
  }
  return {
    concurrency,
    ...(throttle === undefined ? {} : { throttle }),
    debounces: definition?.debounce
      ? await listPendingDebounces(store, prefix, functionId, MAX_KEYS)
      : [],
    batches: definition?.batchEvents
      ? await listPendingBatches(store, prefix, functionId, MAX_KEYS)
      : [],
  };
}
