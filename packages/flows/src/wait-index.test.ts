import { createMemoryQueue, createMemoryStore, ManualClock, type Store } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createFlows } from "./engine.js";
import type { FlowEvent } from "./event.js";
import { createFunction } from "./function.js";
import { waitMatchKey } from "./wait-index.js";

const trigger: FlowEvent = {
  id: "E",
  name: "user/signup",
  data: { userId: "u1", n: 3, nested: { id: true } },
  ts: 0,
};

describe("waitMatchKey", () => {
  it("keys the match shorthand and an equality joined by &&, in either order", () => {
    expect(waitMatchKey("event.data.userId == async.data.userId", trigger)).toEqual({
      path: "data.userId",
      value: "u1",
    });
    expect(waitMatchKey("async.data.owner == event.data.userId", trigger)).toEqual({
      path: "data.owner",
      value: "u1",
    });
    expect(waitMatchKey("async.data.x > 2 && async.data.n == event.data.n", trigger)).toEqual({
      path: "data.n",
      value: 3,
    });
    expect(waitMatchKey("event.data.nested.id == async.data.flag", trigger)).toEqual({
      path: "data.flag",
      value: true,
    });
  });

  it("leaves what it cannot key to the scan", () => {
    expect(waitMatchKey(undefined, trigger)).toBeUndefined();
    expect(waitMatchKey("event.data.userId == async.data.userId || true", trigger)).toBeUndefined();
    expect(waitMatchKey("!(event.data.userId == async.data.userId)", trigger)).toBeUndefined();
    expect(waitMatchKey("async.data.userId == 'u1'", trigger)).toBeUndefined();
    expect(waitMatchKey("event.data.missing == async.data.userId", trigger)).toBeUndefined();
    expect(waitMatchKey("event.data.nested == async.data.userId", trigger)).toBeUndefined();
    expect(waitMatchKey("async.data.a == async.data.b", trigger)).toBeUndefined();
  });
});

/** A memory Store that counts the entries its reads return. */
function countingStore(): { store: Store; read: () => number } {
  const inner = createMemoryStore();
  let read = 0;
  const store: Store = {
    name: "counting",
    get: async (key) => {
      const entry = await inner.get(key);
      if (entry) read++;
      return entry;
    },
    getMany: async (keys) => {
      const entries = await inner.getMany(keys);
      read += entries.filter(Boolean).length;
      return entries;
    },
    list: async (options) => {
      const entries = await inner.list(options);
      read += entries.length;
      return entries;
    },
    commit: (ops) => inner.commit(ops),
    close: () => inner.close(),
  };
  return { store, read: () => read };
}

describe("waits indexed by match key", () => {
  it("an event reads its own waits, not every wait of its name", async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 5));
    const { store, read } = countingStore();
    const onboarding = createFunction(
      { id: "onboarding", triggers: [{ event: "user/signup" }] },
      async ({ step }) =>
        step.waitForEvent("verified", {
          event: "user/verified",
          match: "data.userId",
          timeout: "1d",
        }),
    );
    const audit = createFunction(
      { id: "audit", triggers: [{ event: "audit/start" }] },
      async ({ step }) =>
        step.waitForEvent("any", {
          event: "user/verified",
          if: "async.data.userId == 'u7' || async.data.userId == 'u8'",
          timeout: "1d",
        }),
    );
    const flows = createFlows({
      store,
      queue: createMemoryQueue({ clock }),
      clock,
      prefix: "p/",
      functions: [onboarding, audit],
      retention: false,
    });
    const users = Array.from({ length: 200 }, (_, n) => `u${n}`);
    await flows.send(users.map((userId) => ({ name: "user/signup", data: { userId } })));
    await flows.send({ name: "audit/start" });
    await flows.runDue();
    expect(await store.list({ prefix: "p/w/" })).toHaveLength(1);

    const before = read();
    await flows.send({ name: "user/verified", data: { userId: "u7" } });
    const readByDelivery = read() - before;
    await flows.runDue();

    const runs = await flows.listRuns({ functionId: "onboarding", status: "completed" });
    expect(runs).toHaveLength(1);
    const [done] = runs;
    expect((await flows.getRun(done?.id ?? ""))?.events[0]?.data).toEqual({ userId: "u7" });
    const [auditRun] = await flows.listRuns({ functionId: "audit" });
    expect(auditRun?.status).toBe("completed");
    // The path marker, u7's wait, the one unkeyed wait and the runs they resolve — not the 200
    // waits a scan by name would read.
    expect(readByDelivery).toBeLessThan(20);
    await flows.close();
  });
});
