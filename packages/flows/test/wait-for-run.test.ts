import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createMemoryQueue,
  createMemoryStore,
  ManualClock,
  systemClock,
  TroupeError,
} from "@troupe/core";
import { createSqlitePubSub, createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { describe, expect, it } from "vitest";
import { createFlows, createFunction, NonRetriableError } from "../src/index.js";

const double = createFunction(
  { id: "double", triggers: [{ event: "t/double" }] },
  async ({ event, step }) => {
    const n = await step.run("read", () => Number(event.data.n));
    if (n < 0) throw new NonRetriableError("negative");
    await step.sleep("pause", "1s");
    return step.run("double", () => n * 2);
  },
);

async function runOf(flows: ReturnType<typeof createFlows>, eventId: string) {
  const [run] = (await flows.getEventRuns(eventId)).runs;
  if (!run) throw new Error("the event started no run");
  return run.id;
}

describe("waitForRun on memory (fake clock)", () => {
  const open = () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const flows = createFlows({
      store: createMemoryStore(),
      queue: createMemoryQueue({ clock }),
      clock,
      functions: [double],
    });
    return { clock, flows };
  };

  it("resolves when the run finishes, woken by the commit that ends it", async () => {
    const { clock, flows } = open();
    const { ids } = await flows.send({ name: "t/double", data: { n: 21 } });
    const runId = await runOf(flows, ids[0] ?? "");
    const settled: string[] = [];
    const waiting = flows.waitForRun(runId).then((run) => {
      settled.push(run.status);
      return run;
    });
    await flows.runDue(); // the first step, then the sleep
    expect(settled).toEqual([]);
    await clock.advance(1000);
    await flows.runDue();
    const run = await waiting;
    expect(run).toMatchObject({ id: runId, status: "completed", output: 42 });
  });

  it("resolves at once for a run already finished, also a failed one", async () => {
    const { flows } = open();
    const { ids } = await flows.send({ name: "t/double", data: { n: -1 } });
    await flows.runDue();
    const run = await flows.waitForRun(await runOf(flows, ids[0] ?? ""));
    expect(run.status).toBe("failed");
    expect(run.error?.message).toBe("negative");
  });

  it("rejects with TIMEOUT after timeoutMs on the clock, and NOT_FOUND for an unknown run", async () => {
    const { clock, flows } = open();
    const { ids } = await flows.send({ name: "t/double", data: { n: 1 } });
    await flows.runDue();
    const runId = await runOf(flows, ids[0] ?? "");
    const waiting = flows.waitForRun(runId, { timeoutMs: 500 });
    const outcome = waiting.then(
      () => "resolved",
      (error: unknown) => (TroupeError.isInstance(error) ? error.code : "other"),
    );
    await new Promise((resolve) => setImmediate(resolve));
    await clock.advance(500);
    expect(await outcome).toBe("TIMEOUT");
    await expect(flows.waitForRun("01ARZ3NDEKTSV4RRFFQ69G5FAV")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(flows.waitForRun(runId, { timeoutMs: -1 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("waitForRun.options.timeoutMs"),
    });
  });
});

describe("waitForRun on SQLite across engines", () => {
  it("a run finished by another engine's worker wakes the waiter through the PubSub", async () => {
    const dir = mkdtempSync(join(tmpdir(), "troupe-flows-wait-"));
    const path = join(dir, "flows.db");
    const ports = () => ({
      store: createSqliteStore({ path }),
      queue: createSqliteQueue({ path, clock: systemClock, queueName: "flows" }),
      pubsub: createSqlitePubSub({ path }),
    });
    const workerPorts = ports();
    const callerPorts = ports();
    const quick = createFunction(
      { id: "quick", triggers: [{ event: "t/quick" }] },
      async ({ event, step }) => step.run("echo", () => event.data.value),
    );
    // The caller re-reads nothing on its own for a minute: only the notice can wake it in time.
    const worker = createFlows({ ...workerPorts, functions: [quick], keepProcessAlive: false });
    const caller = createFlows({ ...callerPorts, functions: [quick], pollIntervalMs: 60_000 });
    try {
      await worker.start();
      const { ids } = await caller.send({ name: "t/quick", data: { value: "hi" } });
      const runId = await runOf(caller, ids[0] ?? "");
      const run = await caller.waitForRun(runId, { timeoutMs: 20_000 });
      expect(run).toMatchObject({ status: "completed", output: "hi" });
    } finally {
      await worker.stop();
      await caller.close();
      for (const opened of [workerPorts, callerPorts]) {
        await opened.pubsub.close();
        await opened.queue.close();
        await opened.store.close();
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
