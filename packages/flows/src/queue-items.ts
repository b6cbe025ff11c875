import type { EnqueueItem } from "@troupe/core";
import { fromUtf8, utf8 } from "@troupe/core";
import { blocksDiscovery, isPending, isTerminal, type RunRecord } from "./run-state.js";

/**
 * A queue item: a discovery of a run at a generation, a planned parallel step, a timer of a step
 * (sleep wake-up, wait or invoke timeout), a finish deadline, a cron tick, or a flow-control
 * firing. Ids are deterministic, so enqueueing an item twice is harmless.
 */
export type Item =
  | { readonly kind: "discover"; readonly runId: string; readonly gen: number }
  | { readonly kind: "step"; readonly runId: string; readonly hash: string }
  | { readonly kind: "timer"; readonly runId: string; readonly hash: string }
  | { readonly kind: "deadline"; readonly runId: string }
  | {
      readonly kind: "cron";
      readonly functionId: string;
      /** The trigger's index in the function's triggers. */
      readonly trigger: number;
      /** The tick's time, ms. */
      readonly tick: number;
    }
  | FlowControlItem;

/** A queue item about one run (everything but cron ticks and flow-control items). */
export type RunItem = Extract<Item, { readonly runId: string }>;

/**
 * A debounce firing or a batch flush of a function, for one key (its hash) and one instance (the
 * id of the instance's first event).
 */
export interface FlowControlItem {
  readonly kind: "debounce" | "batch";
  readonly functionId: string;
  readonly keyHash: string;
  readonly instance: string;
}

// ---------------------------------------------------------------- the stored form

/**
 * Items as stored in queue payloads and recovery markers: one-letter fields keep the queue small.
 * This codec is the only code that reads or writes them.
 */
export type StoredItem =
  | { readonly k: "d"; readonly r: string; readonly g: number }
  | { readonly k: "s"; readonly r: string; readonly h: string }
  | { readonly k: "t"; readonly r: string; readonly h: string }
  | { readonly k: "x"; readonly r: string }
  | { readonly k: "c"; readonly f: string; readonly i: number; readonly t: number }
  | { readonly k: "D" | "B"; readonly f: string; readonly h: string; readonly g: string };

/** The stored form of an item. */
export function storedItem(item: Item): StoredItem {
  switch (item.kind) {
    case "discover":
      return { k: "d", r: item.runId, g: item.gen };
    case "step":
      return { k: "s", r: item.runId, h: item.hash };
    case "timer":
      return { k: "t", r: item.runId, h: item.hash };
    case "deadline":
      return { k: "x", r: item.runId };
    case "cron":
      return { k: "c", f: item.functionId, i: item.trigger, t: item.tick };
    case "debounce":
    case "batch":
      return {
        k: item.kind === "debounce" ? "D" : "B",
        f: item.functionId,
        h: item.keyHash,
        g: item.instance,
      };
  }
}

/** An item from its stored form. */
export function itemOfStored(stored: StoredItem): Item {
  switch (stored.k) {
    case "d":
      return { kind: "discover", runId: stored.r, gen: stored.g };
    case "s":
      return { kind: "step", runId: stored.r, hash: stored.h };
    case "t":
      return { kind: "timer", runId: stored.r, hash: stored.h };
    case "x":
      return { kind: "deadline", runId: stored.r };
    case "c":
      return { kind: "cron", functionId: stored.f, trigger: stored.i, tick: stored.t };
    case "D":
    case "B":
      return {
        kind: stored.k === "D" ? "debounce" : "batch",
        functionId: stored.f,
        keyHash: stored.h,
        instance: stored.g,
      };
  }
}

/** A queue payload's bytes. */
export function encodeItem(item: Item): Uint8Array {
  return utf8(JSON.stringify(storedItem(item)));
}

/** An item from a queue payload (throws on bytes that are not an item). */
export function decodeItem(payload: Uint8Array): Item {
  return itemOfStored(JSON.parse(fromUtf8(payload)) as StoredItem);
}

/** The deterministic queue id of an item. */
export function itemId(item: Item): string {
  const stored = storedItem(item);
  switch (stored.k) {
    case "d":
      return `d:${stored.r}:${stored.g}`;
    case "s":
    case "t":
      return `${stored.k}:${stored.r}:${stored.h}`;
    case "x":
      return `x:${stored.r}`;
    case "c":
      return `c:${stored.f}:${stored.i}:${stored.t}`;
    case "D":
    case "B":
      return `${stored.k}:${stored.f}:${stored.h}:${stored.g}`;
  }
}

/** True when a queue id names an item that executes a step (a discovery or a planned step). */
export function isExecutingItemId(id: string): boolean {
  return id.startsWith("d:") || id.startsWith("s:");
}

/** True when a queue id names a run's discovery. */
export function isDiscoveryItemId(id: string): boolean {
  return id.startsWith("d:");
}

/** The queue entry of `item`, claimable from `at` (rounded to whole ms, never negative). */
export function enqueueItem(item: Item, at: number): EnqueueItem & { id: string } {
  return {
    id: itemId(item),
    payload: encodeItem(item),
    availableAt: Math.max(0, Math.round(at)),
  };
}

// ---------------------------------------------------------------- items derived from a run

/** The steps of a run that wait on something other than a discovery. */
export function pendingSteps(run: RunRecord) {
  return Object.entries(run.steps).filter(([, step]) => isPending(step));
}

/** Pending steps a discovery waits for (see `blocksDiscovery`). */
export function blockingSteps(run: RunRecord) {
  return Object.entries(run.steps).filter(([, step]) => blocksDiscovery(step));
}

/** The queue items `run`'s state calls for at time `now`. */
export function deriveItems(run: RunRecord, now: number): EnqueueItem[] {
  if (isTerminal(run.status)) return [];
  const items: EnqueueItem[] = [];
  const push = (item: Item, at: number | undefined) => items.push(enqueueItem(item, at ?? now));
  const pending = pendingSteps(run);
  for (const [hash, step] of pending) {
    if (step.status === "planned") push({ kind: "step", runId: run.id, hash }, step.at);
    else push({ kind: "timer", runId: run.id, hash }, step.at);
    // The child's first item: re-enqueued with the parent's, so a crash between creating the
    // child and enqueueing it cannot strand the child.
    if (step.status === "invoking" && step.child)
      push({ kind: "discover", runId: step.child.runId, gen: 0 }, now);
  }
  if (blockingSteps(run).length === 0)
    push({ kind: "discover", runId: run.id, gen: run.gen }, run.nextAt);
  if (run.finishBy !== undefined) push({ kind: "deadline", runId: run.id }, run.finishBy);
  return items;
}
