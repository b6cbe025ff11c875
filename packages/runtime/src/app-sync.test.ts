import { ManualClock, noopLogger } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createAppSync } from "./app-sync.js";

describe("createAppSync", () => {
  it("retries an app that was down until it syncs, and never re-syncs a synced one", async () => {
    const clock = new ManualClock();
    const calls: string[] = [];
    let appUp = false;
    const sync = createAppSync({
      urls: ["http://up.test/api/inngest", "http://later.test/api/inngest"],
      sync: async (url) => {
        calls.push(url);
        if (url.startsWith("http://later") && !appUp) throw new Error("connection refused");
      },
      intervalMs: 5000,
      clock,
      logger: noopLogger,
    });
    await sync.start();
    expect(sync.states().map((state) => [state.synced, state.attempts])).toEqual([
      [true, 1],
      [false, 1],
    ]);
    expect(sync.states()[1]?.lastError).toBe("connection refused");

    await clock.advance(5000);
    await clock.advance(5000);
    expect(calls.filter((url) => url.startsWith("http://later"))).toHaveLength(3);
    appUp = true;
    await clock.advance(5000);
    await clock.advance(5000);
    expect(sync.states().every((state) => state.synced)).toBe(true);
    expect(calls.filter((url) => url.startsWith("http://up"))).toHaveLength(1);
    expect(calls.filter((url) => url.startsWith("http://later"))).toHaveLength(4);
    expect(clock.pendingTimers).toBe(0);
    await sync.stop();
  });

  it("stops retrying when stopped", async () => {
    const clock = new ManualClock();
    let attempts = 0;
    const sync = createAppSync({
      urls: ["http://down.test/"],
      sync: async () => {
        attempts++;
        throw new Error("down");
      },
      intervalMs: 1000,
      clock,
      logger: noopLogger,
    });
    await sync.start();
    await sync.stop();
    await clock.advance(10_000);
    expect(attempts).toBe(1);
  });

  it("with keepSyncing, syncs synced apps again each interval (an app that restarted)", async () => {
    const clock = new ManualClock();
    let calls = 0;
    let up = true;
    const sync = createAppSync({
      urls: ["http://app.test/"],
      sync: async () => {
        calls++;
        if (!up) throw new Error("down");
        return { modified: false };
      },
      intervalMs: 1000,
      keepSyncing: true,
      clock,
      logger: noopLogger,
    });
    await sync.start();
    up = false;
    await clock.advance(1000);
    expect(sync.states()[0]?.synced).toBe(false);
    up = true;
    await clock.advance(1000);
    expect(sync.states()[0]).toMatchObject({ synced: true, attempts: 3 });
    expect(calls).toBe(3);
    await sync.stop();
    await clock.advance(5000);
    expect(calls).toBe(3);
  });
});
