import { createMemoryPubSub, ManualClock, noopLogger, utf8 } from "@troupe/core";
import { describe, expect, it } from "vitest";
import type { RunRecord } from "./run-state.js";
import type { LoadedRun } from "./run-store.js";
import { createRunWaiters } from "./run-waiters.js";

const CHANNEL = "flows/test/finished";

function aRun(id: string, status: RunRecord["status"]): RunRecord {
  return {
    id,
    functionId: "f",
    status,
    events: [],
    createdAt: 0,
    gen: 0,
    attempt: 0,
    forcePlan: false,
    steps: {},
    stack: [],
    cancelKeys: [],
  } as RunRecord;
}

/** Waiters over a memory PubSub and a fake run table whose reads are counted. */
function setUp() {
  const pubsub = createMemoryPubSub();
  const stored = new Map<string, RunRecord>();
  const loads: string[] = [];
  const waiters = createRunWaiters({
    clock: new ManualClock(0),
    logger: noopLogger,
    pubsub,
    channel: CHANNEL,
    recheckMs: 1000,
    load: async (runId): Promise<LoadedRun | undefined> => {
      loads.push(runId);
      const run = stored.get(runId);
      return run && { run, version: 1, status: run.status };
    },
  });
  // A first wait makes the waiters listen; it settles once its run is stored finished.
  const listen = async () => {
    stored.set("warm", aRun("warm", "completed"));
    await waiters.wait("warm");
    loads.length = 0;
  };
  return { pubsub, stored, loads, waiters, listen };
}

const turns = async (count = 5) => {
  for (let n = 0; n < count; n++) await new Promise((resolve) => setImmediate(resolve));
};

describe("createRunWaiters", () => {
  it("a run this process committed unfinished while listening is waited for without a read", async () => {
    const { stored, loads, waiters, listen } = setUp();
    await listen();
    const track = waiters.tracking();
    expect(track).toBeDefined();
    stored.set("r1", aRun("r1", "running"));
    track?.([aRun("r1", "running")]);
    const waiting = waiters.wait("r1");
    await turns();
    expect(loads).toEqual([]);
    waiters.finished(aRun("r1", "completed"));
    expect((await waiting).status).toBe("completed");
    expect(loads).toEqual([]);
    await waiters.close();
  });

  it("reads the run first when another process's notice named it since: no finish is missed", async () => {
    const { pubsub, stored, loads, waiters, listen } = setUp();
    await listen();
    const track = waiters.tracking();
    track?.([aRun("r2", "running")]);
    // Another process finishes r2 and says so before anyone waits for it here.
    stored.set("r2", aRun("r2", "cancelled"));
    await pubsub.publish(CHANNEL, utf8("r2"));
    await turns();
    const view = await waiters.wait("r2");
    expect(view.status).toBe("cancelled");
    expect(loads).toEqual(["r2"]);
    await waiters.close();
  });

  it("reads the run first when the commit started before the waiters listened", async () => {
    const { stored, loads, waiters } = setUp();
    expect(waiters.tracking()).toBeUndefined();
    stored.set("r3", aRun("r3", "completed"));
    expect((await waiters.wait("r3")).status).toBe("completed");
    expect(loads).toEqual(["r3"]);
    await waiters.close();
  });

  it("reads the run first once it finished here before the wait", async () => {
    const { stored, loads, waiters, listen } = setUp();
    await listen();
    waiters.tracking()?.([aRun("r4", "running")]);
    stored.set("r4", aRun("r4", "failed"));
    waiters.finished(aRun("r4", "failed"));
    expect((await waiters.wait("r4")).status).toBe("failed");
    expect(loads).toEqual(["r4"]);
    await waiters.close();
  });
});
