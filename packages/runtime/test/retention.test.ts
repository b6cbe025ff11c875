import { ManualClock, noopLogger } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { afterEach, describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const DAY = 86_400_000;
const runtimes: Runtime[] = [];
afterEach(async () => {
  for (const runtime of runtimes.splice(0)) await runtime.stop();
});

describe("retention in the runtime", () => {
  it("deletes expired runs and events and reports them on /metrics", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5));
    const hello = createFunction({ id: "hello", triggers: [{ event: "a/hello" }] }, async () => 1);
    const runtime = createRuntime(
      parseRuntimeConfig({
        storage: { url: "memory:" },
        server: { port: 0 },
        retention: { events: "2d", runs: "3d" },
      }),
      { logger: noopLogger, inngest: false, clock, functions: [hello] },
    );
    runtimes.push(runtime);
    await runtime.flows.send([{ name: "a/hello" }, { name: "a/hello" }]);
    await runtime.flows.runDue();
    await clock.advance(2 * DAY + 1);
    await runtime.flows.sweep();
    expect(await runtime.flows.listEvents()).toEqual([]);
    expect(await runtime.flows.listRuns()).toHaveLength(2);
    await clock.advance(DAY);
    await runtime.flows.sweep();
    expect(await runtime.flows.listRuns()).toEqual([]);

    const text = await (await runtime.app.request("/metrics")).text();
    expect(text).toContain('troupe_retention_removed_total{kind="event"} 2');
    expect(text).toContain('troupe_retention_removed_total{kind="run"} 2');
    expect(text).toContain('troupe_retention_removed_total{kind="runs_by_event"} 2');
    expect(text).toMatch(/\ntroupe_retention_passes_total \d+\n/);
  });
});
