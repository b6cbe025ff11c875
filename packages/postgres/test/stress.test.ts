import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ManualClock, StoreConflictError, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createPostgresQueue, createPostgresStore } from "../src/index.js";
import { openNamedPool, postgresUrl, terminateBackends, useScratchSchemas } from "./support.js";
import { waitUntil } from "./wait.js";

const { admin, freshSchema, track } = useScratchSchemas("pgstress");
const packageDir = fileURLToPath(new URL("..", import.meta.url));

/** Runs test/stress-worker.ts in its own Node process (TypeScript via tsx) and parses its answer. */
function runWorker<T>(task: Record<string, unknown>): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=source", "test/stress-worker.ts", JSON.stringify(task)],
      { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "null") as T);
    });
  });
}

describe("postgres adapters across processes", () => {
  it("counts every guarded increment from two processes exactly once", async () => {
    const schema = freshSchema();
    // Migrate first so the workers race on the counter, not on creating the schema.
    const store = createPostgresStore({ connectionString: postgresUrl, schema });
    await store.get("counter");
    const task = {
      mode: "counter",
      url: postgresUrl,
      schema,
      key: "counter",
      writers: 4,
      incrementsPerWriter: 25,
    };
    const results = await Promise.all([
      runWorker<{ versions: number[]; conflicts: number }>(task),
      runWorker<{ versions: number[]; conflicts: number }>(task),
    ]);
    const versions = results.flatMap((result) => result.versions);
    const total = 2 * task.writers * task.incrementsPerWriter;
    const entry = await store.get("counter");
    expect(new TextDecoder().decode(entry?.value)).toBe(String(total));
    expect(versions).toHaveLength(total);
    // Each version was won by exactly one commit, and the last one is what the key holds.
    expect(new Set(versions).size).toBe(total);
    expect(entry?.version).toBe(Math.max(...versions));
    expect(results.reduce((sum, result) => sum + result.conflicts, 0)).toBeGreaterThan(0);
    await store.close();
  }, 60_000);

  it("lets two worker processes drain one queue with no item held twice and none lost", async () => {
    const schema = freshSchema();
    const queueName = "stress";
    const items = 300;
    const leaseMs = 400;
    const producer = createPostgresQueue({ connectionString: postgresUrl, schema, queueName });
    await producer.enqueueMany(
      Array.from({ length: items }, (_, index) => ({
        id: `job-${index}`,
        payload: new Uint8Array([index % 256]),
      })),
    );
    type Claim = { id: string; leaseId: string; claimedAt: number; leaseExpiresAt: number };
    type Outcome = { claims: Claim[]; acked: string[]; lost: number };
    const task = { mode: "queue", url: postgresUrl, schema, queueName, leaseMs, abandonRate: 0.05 };
    const results = await Promise.all([runWorker<Outcome>(task), runWorker<Outcome>(task)]);

    const acked = results.flatMap((result) => result.acked);
    expect(acked).toHaveLength(items);
    expect(new Set(acked).size).toBe(items);
    const claims = results.flatMap((result) => result.claims);
    // Abandoned items were claimed again after their lease lapsed.
    expect(claims.length).toBeGreaterThan(items);
    const byItem = new Map<string, Claim[]>();
    for (const claim of claims) byItem.set(claim.id, [...(byItem.get(claim.id) ?? []), claim]);
    for (const [id, itemClaims] of byItem) {
      itemClaims.sort((a, b) => a.claimedAt - b.claimedAt);
      for (let index = 1; index < itemClaims.length; index++) {
        const previous = itemClaims[index - 1] as Claim;
        const next = itemClaims[index] as Claim;
        expect(next.claimedAt, `item ${id} claimed while still leased`).toBeGreaterThanOrEqual(
          previous.leaseExpiresAt,
        );
        expect(next.leaseId).not.toBe(previous.leaseId);
      }
    }
    expect(await producer.counts()).toEqual({ waiting: 0, leased: 0 });
    await producer.close();
  }, 60_000);
});

describe("postgres adapters when a backend is killed", () => {
  // Blocks every statement on `table` until the returned release() runs, so a test can kill an
  // operation's backend while the operation is in flight.
  async function lockTable(table: string) {
    const client = await admin.connect();
    await client.query("BEGIN");
    await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    return async () => {
      await client.query("ROLLBACK");
      client.release();
    };
  }
  const waitForBlocked = (applicationName: string) =>
    waitUntil(async () => {
      const result = await admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
        [applicationName],
      );
      return (result.rowCount ?? 0) > 0;
    }, "the operation to block on the lock");

  it("fails a store commit killed mid-flight with UNAVAILABLE, writes none of it, then recovers", async () => {
    const schema = freshSchema();
    const applicationName = `troupe_kill_store_${process.pid}`;
    const pool = openNamedPool(applicationName);
    track(pool);
    pool.on("error", () => undefined);
    const store = createPostgresStore({ pool, schema });
    await store.commit([{ type: "set", key: "before", value: new Uint8Array([1]) }]);

    const release = await lockTable(`"${schema}".store_entries`);
    const ops = Array.from({ length: 100 }, (_, index) => ({
      type: "set" as const,
      key: `k${index}`,
      value: new Uint8Array([index]),
    }));
    const pending = store.commit(ops).catch((error: unknown) => error);
    await waitForBlocked(applicationName);
    expect(await terminateBackends(admin, applicationName)).toBeGreaterThan(0);
    const error = await pending;
    await release();

    expect(TroupeError.isInstance(error, "UNAVAILABLE")).toBe(true);
    expect((error as Error).cause).toBeDefined();
    expect(await store.list({ prefix: "k" })).toEqual([]);
    const { version } = await store.commit(ops);
    expect((await store.list({ prefix: "k" })).every((entry) => entry.version === version)).toBe(
      true,
    );
    await store.close();
  });

  it("recovers when idle pooled connections are killed", async () => {
    const schema = freshSchema();
    const applicationName = `troupe_kill_idle_${process.pid}`;
    const pool = openNamedPool(applicationName);
    track(pool);
    pool.on("error", () => undefined);
    const store = createPostgresStore({ pool, schema });
    const { version } = await store.commit([{ type: "set", key: "k", value: new Uint8Array([1]) }]);
    expect(await terminateBackends(admin, applicationName)).toBeGreaterThan(0);
    // A read on a dead pooled connection is retried on a fresh one.
    expect((await store.get("k"))?.version).toBe(version);
    const next = await store.commit([
      { type: "set", key: "k", value: new Uint8Array([2]), expect: version },
    ]);
    expect(next.version).toBeGreaterThan(version);
    await expect(
      store.commit([{ type: "set", key: "k", value: new Uint8Array([3]), expect: version }]),
    ).rejects.toSatisfy(StoreConflictError.isInstance);
    await store.close();
  });

  it("fails a claim killed mid-flight with UNAVAILABLE and leases nothing, then recovers", async () => {
    const schema = freshSchema();
    const applicationName = `troupe_kill_queue_${process.pid}`;
    const pool = openNamedPool(applicationName);
    track(pool);
    pool.on("error", () => undefined);
    const clock = new ManualClock();
    const queue = createPostgresQueue({ pool, schema, queueName: "kill", clock });
    await queue.enqueueMany([
      { id: "a", payload: new Uint8Array([1]) },
      { id: "b", payload: new Uint8Array([2]) },
    ]);

    const release = await lockTable(`"${schema}".queue_items`);
    const pending = queue.claim({ limit: 2, leaseMs: 1000 }).catch((error: unknown) => error);
    await waitForBlocked(applicationName);
    await terminateBackends(admin, applicationName);
    const error = await pending;
    await release();

    expect(TroupeError.isInstance(error, "UNAVAILABLE")).toBe(true);
    expect(await queue.counts()).toEqual({ waiting: 2, leased: 0 });
    const leases = await queue.claim({ limit: 2, leaseMs: 1000 });
    expect(leases.map((lease) => [lease.id, lease.attempts])).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    await queue.close();
  });
});
