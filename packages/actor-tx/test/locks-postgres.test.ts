import { createMemoryMetrics, type Store, TroupeError } from "@troupe/core";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLockService, type LockService } from "../src/index.js";

const schemas = scratchSchemas("actor_tx_locks", { from: import.meta.url });
beforeAll(() => schemas.assertReachable());
afterAll(() => schemas.dropAll());

const PROBE_MS = 300;

describe("locks on PostgreSQL across three nodes (one Store pool each)", () => {
  it("finds a three-way cycle within two probes of the victim's node and fails only the youngest", async () => {
    const schema = schemas.fresh();
    const stores: Store[] = [0, 1, 2].map(() =>
      createPostgresStore({ connectionString: postgresUrl, schema }),
    );
    const metrics = [0, 1, 2].map(() => createMemoryMetrics());
    const nodes: LockService[] = stores.map((store, i) =>
      createLockService({
        store,
        nodeId: `pg-${i}`,
        probeIntervalMs: PROBE_MS,
        leaseMs: 30_000,
        ...(metrics[i] ? { metrics: metrics[i] } : {}),
      }),
    );
    const [n0, n1, n2] = nodes as [LockService, LockService, LockService];
    try {
      const x = await n0.acquire("x", { owner: "a" });
      const y = await n1.acquire("y", { owner: "b" });
      const z = await n2.acquire("z", { owner: "c" });
      expect([x.token, y.token, z.token]).toEqual([1, 1, 1]);
      const a = n0.acquire("y", { owner: "a" });
      const c = n2.acquire("x", { owner: "c" });
      await new Promise((resolve) => setTimeout(resolve, 20));
      // b's wait closes the cycle; its node has probed nothing before (it had no waiters).
      const probesBefore = metrics[1]?.value("actors_lock_probes_total") ?? 0;
      expect(probesBefore).toBe(0);
      const error = await n1.acquire("z", { owner: "b" }).catch((e: unknown) => e);
      expect(TroupeError.isInstance(error, "DEADLOCK")).toBe(true);
      expect((error as Error).message).toMatch(/b waits for "z" held by c/);
      // Counted probes, not wall-clock: the victim's node needed at most two passes.
      expect(metrics[1]?.value("actors_lock_probes_total")).toBeLessThanOrEqual(2);
      expect(metrics[1]?.value("actors_lock_deadlocks_total")).toBe(1);
      // Breaking the cycle lets the others through in turn, with larger fencing tokens.
      await y.release();
      const granted = await a;
      expect(granted.token).toBe(2);
      await x.release();
      await granted.release();
      expect((await c).token).toBe(2);
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
