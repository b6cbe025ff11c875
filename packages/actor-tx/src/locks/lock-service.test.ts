import {
  createMemoryMetrics,
  createMemoryStore,
  ManualClock,
  type Store,
  TroupeError,
} from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { createLockService, type LockService } from "./lock-service.js";

const PROBE_MS = 1_000;

function watch<T>(promise: Promise<T>) {
  const seen: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(seen, { value, settled: true }),
    (error: unknown) => Object.assign(seen, { error, settled: true }),
  );
  return seen;
}

describe("lock service (memory Store, fake clock, nodes sharing one Store)", () => {
  const services: LockService[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
  });
  let metrics = createMemoryMetrics();
  const nodes = (store: Store, clock: ManualClock, count: number) =>
    Array.from({ length: count }, (_, i) => {
      const service = createLockService({
        metrics,
        store,
        clock,
        nodeId: `node-${i}`,
        probeIntervalMs: PROBE_MS,
        leaseMs: 30_000,
      });
      services.push(service);
      return service;
    });

  /** Advances in steps until `done`; returns the time it took. */
  async function timeUntil(clock: ManualClock, done: () => boolean, limitMs: number) {
    const start = clock.now();
    while (!done() && clock.now() - start <= limitMs) await clock.advance(25);
    return clock.now() - start;
  }

  it("detects a two-way cycle across nodes within two probe intervals and fails the youngest", async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    metrics = createMemoryMetrics();
    const [n0, n1] = nodes(store, clock, 2) as [LockService, LockService];
    await n0.acquire("x", { owner: "a" });
    const y = await n1.acquire("y", { owner: "b" });
    const a = watch(n0.acquire("y", { owner: "a" }));
    await clock.advance(10);
    const b = watch(n1.acquire("x", { owner: "b" }));
    const took = await timeUntil(clock, () => b.settled, 2 * PROBE_MS);
    expect(took).toBeLessThanOrEqual(2 * PROBE_MS);
    expect(TroupeError.isInstance(b.error, "DEADLOCK")).toBe(true);
    expect((b.error as Error).message).toContain('b waits for "x" held by a');
    expect((b.error as Error).message).toContain('a waits for "y" held by b');
    expect(a.settled).toBe(false);
    expect(metrics.value("actors_lock_waits_total")).toBe(2);
    expect(metrics.value("actors_lock_deadlocks_total")).toBe(1);
    await y.release();
    await timeUntil(clock, () => a.settled, PROBE_MS);
    expect(a.value?.token).toBe(2);
  });

  it("detects a three-way cycle across three nodes within two probe intervals", async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const [n0, n1, n2] = nodes(store, clock, 3) as [LockService, LockService, LockService];
    await n0.acquire("x", { owner: "a" });
    await n1.acquire("y", { owner: "b" });
    await n2.acquire("z", { owner: "c" });
    const a = watch(n0.acquire("y", { owner: "a" }));
    await clock.advance(5);
    const c = watch(n2.acquire("x", { owner: "c" }));
    await clock.advance(5);
    const b = watch(n1.acquire("z", { owner: "b" })); // closes the cycle; b is the youngest
    const took = await timeUntil(clock, () => a.settled || b.settled || c.settled, 2 * PROBE_MS);
    expect(took).toBeLessThanOrEqual(2 * PROBE_MS);
    expect(TroupeError.isInstance(b.error, "DEADLOCK")).toBe(true);
    expect(a.settled || c.settled).toBe(false);
    expect((b.error as TroupeError).details.cycle).toHaveLength(3);
  });

  it("releases a dead holder's lock at its lease end and fences it with a larger token", async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const dead = createLockService({ store, clock, nodeId: "dead", leaseMs: 3_000 });
    const first = await dead.acquire("job", { owner: "a" });
    await dead.close(); // stops renewing: the holder "dies"
    const [live] = nodes(store, clock, 1) as [LockService];
    const next = watch(live.acquire("job", { owner: "b" }));
    await clock.advance(2_900);
    expect(next.settled).toBe(false);
    await timeUntil(clock, () => next.settled, 1_000);
    expect(next.value?.token).toBeGreaterThan(first.token);
  });

  it("keeps a renewed lock past its lease and shares it among readers", async () => {
    const clock = new ManualClock();
    const store = createMemoryStore();
    const [n0, n1] = nodes(store, clock, 2) as [LockService, LockService];
    const r1 = await n0.acquire("doc", { owner: "r1", mode: "shared" });
    const r2 = await n1.acquire("doc", { owner: "r2", mode: "shared" });
    const writer = watch(n1.acquire("doc", { owner: "w", timeoutMs: 120_000 }));
    await clock.advance(90_000); // three leases: renewals keep the readers
    expect(writer.settled).toBe(false);
    expect(r1.lost || r2.lost).toBe(false);
    await r1.release();
    await r2.release();
    await timeUntil(clock, () => writer.settled, PROBE_MS);
    expect(writer.value?.token).toBe(3);
  });

  it("refuses a lock name that is not a string, naming the field, and writes nothing", async () => {
    const store = createMemoryStore();
    const [n0] = nodes(store, new ManualClock(), 1) as [LockService];
    await expect(n0.acquire(42 as unknown as string, { owner: "a" })).rejects.toThrow(/name/);
    await expect(n0.acquire("", { owner: "a" })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(await store.list({})).toEqual([]);
  });
});
