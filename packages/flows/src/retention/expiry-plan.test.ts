import { createJsonCodec, type StoreEntry } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { flowKeys } from "../keys.js";
import type { RunRecord, RunStatus } from "../run-state.js";
import type { ExpiryEntry } from "./expiry-index.js";
import { keyToRead, planExpiry } from "./expiry-plan.js";

const codec = createJsonCodec<unknown>();
const keys = flowKeys("t/");
const context = { keys, now: 10_000, dedupeWindowMs: 1000 };
const entry = (kind: ExpiryEntry["kind"], id: string, listed: string[] = []): ExpiryEntry => ({
  key: `t/x/${kind}/${id}`,
  version: 3,
  kind,
  at: 9000,
  id,
  keys: listed,
});
const run = (status: RunStatus): RunRecord => ({
  id: "R1",
  functionId: "fn",
  status,
  events: [
    { id: "E1", name: "a", data: {}, ts: 1 },
    { id: "E2", name: "a", data: {}, ts: 1 },
  ],
  createdAt: 1,
  gen: 0,
  attempt: 0,
  forcePlan: false,
  steps: {},
  stack: [],
  cancelKeys: [],
});
const stored = (key: string, value: unknown, version = 7): StoreEntry => ({
  key,
  value: codec.encode(value),
  version,
});

describe("planExpiry", () => {
  it("deletes a finished run with its indexes, guarded by the version read", () => {
    const current = stored(keys.run("R1"), run("completed"));
    const plan = planExpiry(entry("run", "R1"), current, context);
    expect(plan.ops).toEqual([
      { type: "delete", key: keys.run("R1"), expect: 7 },
      { type: "delete", key: keys.runByFunction("fn", "R1") },
      { type: "delete", key: keys.runAll("R1") },
      { type: "delete", key: keys.runByEvent("E1", "R1") },
      { type: "delete", key: keys.runByEvent("E2", "R1") },
      { type: "delete", key: "t/x/run/R1", expect: 3 },
    ]);
    expect(plan.removed).toEqual({ run: 1, runs_by_event: 2 });
  });

  it("never deletes a run that is queued or running", () => {
    for (const status of ["queued", "running"] as const) {
      const plan = planExpiry(entry("run", "R1"), stored(keys.run("R1"), run(status)), context);
      expect(plan.ops).toEqual([{ type: "delete", key: "t/x/run/R1", expect: 3 }]);
      expect(plan.removed).toEqual({});
    }
  });

  it("keeps a dedupe id set again within its window", () => {
    const key = keys.dedupe("d");
    const reused = planExpiry(
      entry("dedupe", "E1", [key]),
      stored(key, { eventId: "E2", at: 9500 }),
      context,
    );
    expect(reused.ops).toEqual([{ type: "delete", key: "t/x/dedupe/E1", expect: 3 }]);
    // Still E1's and not yet past its window (the clock stepped back): the entry waits.
    const early = planExpiry(
      entry("dedupe", "E1", [key]),
      stored(key, { eventId: "E1", at: 9500 }),
      context,
    );
    expect(early.ops).toEqual([]);
    const stale = planExpiry(entry("dedupe", "E1", [key]), stored(key, { at: 9000 }), context);
    expect(stale.ops).toEqual([
      { type: "delete", key, expect: 7 },
      { type: "delete", key: "t/x/dedupe/E1", expect: 3 },
    ]);
    expect(stale.removed).toEqual({ dedupe: 1 });
  });

  it("deletes an event's listed keys and counts its skip records", () => {
    const listed = [keys.event("E1"), keys.eventByName("a", "E1"), keys.eventSkip("E1", "fn")];
    const plan = planExpiry(entry("event", "E1", listed), undefined, context);
    expect(plan.ops.map((op) => op.key)).toEqual([...listed, "t/x/event/E1"]);
    expect(plan.removed).toEqual({ event: 1, event_skip: 1 });
    expect(keyToRead(entry("event", "E1", listed), keys)).toBeUndefined();
    expect(keyToRead(entry("run", "R1"), keys)).toBe(keys.run("R1"));
  });
});
