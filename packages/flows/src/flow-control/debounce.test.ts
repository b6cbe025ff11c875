import { createMemoryQueue, createMemoryStore, ManualClock } from "@troupe/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createFlows } from "../engine.js";
import { createFunction } from "../function.js";
import { debounceDeadline, parseDebounce } from "./debounce.js";

describe("debounce deadline", () => {
  it("is a quiet period after the latest event, capped at timeout after the first", () => {
    const config = { periodMs: 10_000, timeoutMs: 25_000 };
    expect(debounceDeadline(config, 0, 0)).toBe(10_000);
    expect(debounceDeadline(config, 0, 12_000)).toBe(22_000);
    expect(debounceDeadline(config, 0, 20_000)).toBe(25_000);
    expect(debounceDeadline({ periodMs: 10_000 }, 0, 1_000_000)).toBe(1_010_000);
  });

  it("never moves backwards as events arrive, so one queue item per debounce suffices", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 100_000 }),
        fc.option(fc.integer({ min: 1000, max: 200_000 }), { nil: undefined }),
        fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 1, maxLength: 50 }),
        (periodMs, timeoutMs, gaps) => {
          const config = timeoutMs === undefined ? { periodMs } : { periodMs, timeoutMs };
          let now = 0;
          let deadline = debounceDeadline(config, 0, 0);
          for (const gap of gaps) {
            now += gap;
            if (now >= deadline) break; // the debounce ran; a new one would start
            const next = debounceDeadline(config, 0, now);
            expect(next).toBeGreaterThanOrEqual(deadline);
            deadline = next;
          }
        },
      ),
    );
  });

  it("validates the option, naming the field", () => {
    expect(parseDebounce({ period: "5m", timeout: "10m" }, "debounce")).toEqual({
      periodMs: 300_000,
      timeoutMs: 600_000,
    });
    expect(() => parseDebounce({ period: 10 }, "debounce")).toThrow(/debounce\.period/);
    expect(() => parseDebounce({ timeout: "1m" }, "debounce")).toThrow(/debounce\.period/);
  });
});

describe("debounce (property)", () => {
  it("runs exactly the events followed by a quiet period on their key, each once", async () => {
    const PERIOD = 2000;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ key: fc.constantFrom("a", "b"), gap: fc.nat(3000) }), {
          minLength: 1,
          maxLength: 25,
        }),
        async (steps) => {
          const clock = new ManualClock(Date.UTC(2026, 0, 1));
          const fn = createFunction(
            {
              id: "debounce",
              triggers: [{ event: "e" }],
              debounce: { period: PERIOD, key: "event.data.key" },
            },
            async () => null,
          );
          const flows = createFlows({
            store: createMemoryStore(),
            queue: createMemoryQueue({ clock }),
            clock,
            functions: [fn],
          });
          const sent: { id: string; key: string; at: number }[] = [];
          for (const step of steps) {
            clock.set(clock.now() + step.gap);
            await flows.runDue();
            const [id = ""] = (await flows.send({ name: "e", data: { key: step.key } })).ids;
            sent.push({ id, key: step.key, at: clock.now() });
          }
          clock.set(clock.now() + PERIOD);
          await flows.runDue();
          const expected = sent.filter((event, index) => {
            const next = sent.slice(index + 1).find((later) => later.key === event.key);
            return next === undefined || next.at >= event.at + PERIOD;
          });
          const runs = await Promise.all(
            (await flows.listRuns({ limit: 1000 })).map(async (summary) =>
              flows.getRun(summary.id),
            ),
          );
          // One run per quiet burst, with that burst's last event only.
          expect(runs.every((run) => run?.events.length === 1)).toBe(true);
          expect(runs.map((run) => run?.events[0]?.id).sort()).toEqual(
            expected.map((event) => event.id).sort(),
          );
          for (const run of runs) {
            const event = sent.find((candidate) => candidate.id === run?.events[0]?.id);
            expect(run?.createdAt).toBeGreaterThanOrEqual((event?.at ?? 0) + PERIOD);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
