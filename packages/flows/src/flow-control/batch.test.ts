import { createMemoryQueue, createMemoryStore, ManualClock } from "@troupe/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFlows } from "../engine.js";
import { createFunction } from "../function.js";

const MAX_SIZE = 3;
const TIMEOUT = 5000;

describe("batching (property)", () => {
  it("puts every event in exactly one run, in order, per key, full or at the timeout", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.constantFrom("a", "b", "c"), gap: fc.nat(3000) }), {
          minLength: 1,
          maxLength: 25,
        }),
        async (steps) => {
          const start = Date.UTC(2026, 0, 1);
          const clock = new ManualClock(start);
          const fn = createFunction(
            {
              id: "batch",
              triggers: [{ event: "e" }],
              batchEvents: { maxSize: MAX_SIZE, timeout: TIMEOUT, key: "event.data.key" },
            },
            async ({ events }) => events.length,
          );
          const flows = createFlows({
            store: createMemoryStore(),
            queue: createMemoryQueue({ clock }),
            clock,
            functions: [fn],
          });
          const sent = new Map<string, { key: string; at: number; order: number }>();
          for (const [order, step] of steps.entries()) {
            clock.set(clock.now() + step.gap);
            await flows.runDue();
            const [id = ""] = (await flows.send({ name: "e", data: { key: step.key } })).ids;
            sent.set(id, { key: step.key, at: clock.now(), order });
          }
          clock.set(clock.now() + TIMEOUT);
          await flows.runDue();
          const runs = await Promise.all(
            (await flows.listRuns({ limit: 1000 })).map(async (summary) =>
              flows.getRun(summary.id),
            ),
          );
          const members = runs.flatMap((run) => run?.events.map((event) => event.id) ?? []);
          expect(members.sort()).toEqual([...sent.keys()].sort());
          for (const run of runs) {
            const events = (run?.events ?? []).map((event) => sent.get(event.id));
            expect(events.length).toBeGreaterThan(0);
            expect(events.length).toBeLessThanOrEqual(MAX_SIZE);
            expect(new Set(events.map((event) => event?.key)).size).toBe(1);
            const orders = events.map((event) => event?.order ?? -1);
            expect(orders).toEqual([...orders].sort((x, y) => x - y));
            const first = events[0]?.at ?? 0;
            const last = events.at(-1)?.at ?? 0;
            // A full batch starts with its last event; a partial one not before its timeout.
            if (events.length === MAX_SIZE) expect(run?.createdAt).toBe(last);
            else expect(run?.createdAt).toBeGreaterThanOrEqual(first + TIMEOUT);
            expect(last).toBeLessThan(first + TIMEOUT);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
