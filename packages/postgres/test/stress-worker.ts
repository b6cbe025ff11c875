// A child process for test/stress.test.ts: `counter` or `queue` mode, arguments as JSON in argv[2].
// It prints one JSON line with what it did, for the parent to check.
import { StoreConflictError, systemClock, TroupeError } from "@troupe/core";
import { createPostgresQueue, createPostgresStore } from "../src/index.js";

interface CounterTask {
  readonly mode: "counter";
  readonly url: string;
  readonly schema: string;
  readonly key: string;
  readonly writers: number;
  readonly incrementsPerWriter: number;
}

interface QueueTask {
  readonly mode: "queue";
  readonly url: string;
  readonly schema: string;
  readonly queueName: string;
  readonly leaseMs: number;
  /** Share of first claims left unacknowledged, as if the worker crashed mid-item. */
  readonly abandonRate: number;
  readonly expected: number;
}

const task = JSON.parse(process.argv[2] ?? "{}") as CounterTask | QueueTask;

async function runCounter(counter: CounterTask) {
  const store = createPostgresStore({ connectionString: counter.url, schema: counter.schema });
  const versions: number[] = [];
  let conflicts = 0;
  const writer = async () => {
    for (let done = 0; done < counter.incrementsPerWriter; ) {
      const entry = await store.get(counter.key);
      const value = entry ? Number(new TextDecoder().decode(entry.value)) : 0;
      try {
        const { version } = await store.commit([
          {
            type: "set",
            key: counter.key,
            value: new TextEncoder().encode(String(value + 1)),
            expect: entry ? entry.version : "absent",
          },
        ]);
        versions.push(version);
        done++;
      } catch (error) {
        if (!StoreConflictError.isInstance(error)) throw error;
        conflicts++;
      }
    }
  };
  await Promise.all(Array.from({ length: counter.writers }, writer));
  await store.close();
  return { versions, conflicts };
}

async function runQueue(work: QueueTask) {
  const queue = createPostgresQueue({
    connectionString: work.url,
    schema: work.schema,
    queueName: work.queueName,
    clock: systemClock,
  });
  const claims: { id: string; leaseId: string; claimedAt: number; leaseExpiresAt: number }[] = [];
  const acked: string[] = [];
  let lost = 0;
  for (;;) {
    const leases = await queue.claim({ limit: 5, leaseMs: work.leaseMs });
    if (leases.length === 0) {
      const { waiting, leased } = await queue.counts();
      if (waiting + leased === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
      continue;
    }
    for (const lease of leases) {
      claims.push({
        id: lease.id,
        leaseId: lease.leaseId,
        claimedAt: lease.leaseExpiresAt - work.leaseMs,
        leaseExpiresAt: lease.leaseExpiresAt,
      });
      if (lease.attempts === 1 && Math.random() < work.abandonRate) continue;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
      try {
        await queue.ack(lease);
        acked.push(lease.id);
      } catch (error) {
        if (!TroupeError.isInstance(error, "LEASE_LOST")) throw error;
        lost++;
      }
    }
  }
  await queue.close();
  return { claims, acked, lost };
}

const result = task.mode === "counter" ? await runCounter(task) : await runQueue(task);
process.stdout.write(`${JSON.stringify(result)}\n`);
