import { type EnqueueItem, type Lease, type Queue, TroupeError } from "@troupe/core";
import PgBoss from "pg-boss";

/**
 * pg-boss 10 behind the parts of the Queue port that `benchQueue` drives (enqueue, enqueueMany,
 * claim, ack, ackMany, close), so both libraries run the same cycle code: send → fetch → complete, and
 * insert → fetch(batchSize) → complete. Payloads travel as base64 in the job's JSON data, as
 * pg-boss stores JSON. Everything else throws: this is a benchmark harness, not an adapter.
 */
export async function openPgBossQueue(
  connectionString: string,
  schema: string,
  name = "bench",
): Promise<Queue> {
  const boss = new PgBoss({
    connectionString,
    schema,
    // No background maintenance, cron or monitoring during the measurement.
    supervise: false,
    schedule: false,
    // As many connections as Troupe's pool (pg's default), for the runs with 10 consumers.
    max: 10,
  });
  boss.on("error", () => undefined);
  await boss.start();
  await boss.createQueue(name);
  const data = (item: EnqueueItem) => ({ payload: Buffer.from(item.payload).toString("base64") });
  const unsupported = (method: string) => () =>
    Promise.reject(new TroupeError("INTERNAL", `pg-boss bench queue: ${method} is not wired up`));
  return {
    name: "pg-boss",
    queueName: name,
    async enqueue(item) {
      const id = await boss.send(name, data(item));
      if (id === null) throw new TroupeError("INTERNAL", "pg-boss send returned no id");
      return { id, created: true };
    },
    async enqueueMany(items) {
      const jobs = items.map((item) => ({ id: crypto.randomUUID(), name, data: data(item) }));
      await boss.insert(jobs);
      return jobs.map((job) => ({ id: job.id, created: true }));
    },
    async claim(options) {
      const jobs = await boss.fetch<{ payload: string }>(name, { batchSize: options.limit });
      return jobs.map(
        (job): Lease => ({
          id: job.id,
          leaseId: job.id,
          payload: Buffer.from(job.data.payload, "base64"),
          priority: 0,
          partitionKey: undefined,
          availableAt: 0,
          enqueuedAt: 0,
          attempts: 1,
          state: "leased",
          leaseExpiresAt: 0,
        }),
      );
    },
    async ack(lease) {
      await boss.complete(name, lease.id);
    },
    // pg-boss completes an array of ids in one statement.
    async ackMany(leases) {
      await boss.complete(
        name,
        leases.map((lease) => lease.id),
      );
      return { applied: [...leases], lost: [] };
    },
    retryMany: unsupported("retryMany"),
    retry: unsupported("retry"),
    extend: unsupported("extend"),
    remove: unsupported("remove"),
    get: unsupported("get"),
    nextAvailableAt: unsupported("nextAvailableAt"),
    counts: unsupported("counts"),
    async close() {
      await boss.stop({ graceful: false, wait: true });
    },
  };
}
