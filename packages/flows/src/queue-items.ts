import type { EnqueueItem } from "@troupe/core";
import { utf8 } from "@troupe/core";
import { isPending, isTerminal, type RunRecord } from "./run-state.js";

/**
 * A queue item: a discovery of run `r` at generation `g` ("d"), a planned parallel step ("s"), a
 * timer of a step ("t": sleep wake-up, wait or invoke timeout), a finish deadline ("x"), or a
 * cron tick ("c"). Ids are deterministic, so enqueueing an item twice is harmless.
 */
export type Item =
  | { readonly k: "d"; readonly r: string; readonly g: number }
  | { readonly k: "s"; readonly r: string; readonly h: string }
  | { readonly k: "t"; readonly r: string; readonly h: string }
  | { readonly k: "x"; readonly r: string }
  | { readonly k: "c"; readonly f: string; readonly i: number; readonly t: number }
  | FlowControlItem;

/**
 * A debounce firing ("D") or a batch flush ("B") of function `f`, key hash `h`, instance `g`
 * (the id of the instance's first event).
 */
export interface FlowControlItem {
  readonly k: "D" | "B";
  readonly f: string;
  readonly h: string;
  readonly g: string;
}

/** The deterministic queue id of an item. */
export function itemId(item: Item): string {
  switch (item.k) {
    case "d":
      return `d:${item.r}:${item.g}`;
    case "s":
      return `s:${item.r}:${item.h}`;
    case "t":
      return `t:${item.r}:${item.h}`;
    case "x":
      return `x:${item.r}`;
    case "c":
      return `c:${item.f}:${item.i}:${item.t}`;
    case "D":
    case "B":
      return `${item.k}:${item.f}:${item.h}:${item.g}`;
  }
}

/** The steps of a run that wait on something other than a discovery. */
export function pendingSteps(run: RunRecord) {
  return Object.entries(run.steps).filter(([, step]) => isPending(step));
}

/** The queue items `run`'s state calls for at time `now`. */
export function deriveItems(run: RunRecord, now: number): EnqueueItem[] {
  if (isTerminal(run.status)) return [];
  const items: EnqueueItem[] = [];
  const push = (item: Item, at: number | undefined) =>
    items.push({
      id: itemId(item),
      payload: utf8(JSON.stringify(item)),
      availableAt: Math.max(0, Math.round(at ?? now)),
    });
  const pending = pendingSteps(run);
  for (const [hash, step] of pending) {
    if (step.status === "planned") push({ k: "s", r: run.id, h: hash }, step.at);
    else push({ k: "t", r: run.id, h: hash }, step.at);
    // The child's first item: re-enqueued with the parent's, so a crash between creating the
    // child and enqueueing it cannot strand the child.
    if (step.status === "invoking" && step.child) push({ k: "d", r: step.child.runId, g: 0 }, now);
  }
  if (pending.length === 0) push({ k: "d", r: run.id, g: run.gen }, run.nextAt);
  if (run.finishBy !== undefined) push({ k: "x", r: run.id }, run.finishBy);
  return items;
}
