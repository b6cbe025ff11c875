import type { EnqueueItem, EnqueueResult, Lease, LeaseRef, Queue } from "@troupe/core";
import { Queue as BullQueue, type Job, Worker } from "bullmq";

/** The BullMQ version this comparison was written for (the devDependency pin). */
export const BULLMQ_VERSION = "6.3.11";

/**
 * BullMQ 6 behind just enough of Troupe's `Queue` port for `benchQueue`'s cycles, so both run
 * the same loop on the same Redis:
 *
 * - enqueue     → `Queue.add(name, { payload: base64 }, { removeOnComplete: true })` (one Lua
 *                 script; BullMQ data must be JSON, so the 100 bytes travel as base64);
 *   enqueueMany → `Queue.addBulk` (one MULTI of add scripts).
 * - claim       → `Worker.getNextJob(token, { block: false })` (the `moveToActive` script, which
 *                 takes the job's lock for `lockDuration`), once per item up to `limit`: BullMQ
 *                 has no multi-job fetch.
 * - ack         → `Job.moveToCompleted(result, token, false)` (the `moveToFinished` script; with
 *                 removeOnComplete the job is deleted, like Troupe's ack);
 *   ackMany     → those scripts for every job at once (BullMQ has no batch completion).
 *
 * The worker never runs its own loop (`autorun: false`), lock renewal and the stalled-job checker
 * are off (Troupe runs no timers either), and `fetchNext` is false so each ack is one step.
 */
export function createBullmqBenchQueue(options: {
  readonly url: string;
  readonly prefix: string;
  readonly queueName: string;
}): Queue {
  const parsed = new URL(options.url);
  const connection = {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    maxRetriesPerRequest: null,
  };
  const queue = new BullQueue(options.queueName, { connection, prefix: options.prefix });
  const worker = new Worker(options.queueName, null, {
    connection,
    prefix: options.prefix,
    autorun: false,
    lockDuration: 60_000,
    skipLockRenewal: true,
    skipStalledCheck: true,
  });
  const jobs = new Map<string, Job>();
  let token = 0;
  const unsupported = (what: string) => () => {
    throw new Error(`the BullMQ benchmark wrapper does not implement ${what}`);
  };
  const enqueueResult = (job: Job): EnqueueResult => ({ id: String(job.id), created: true });
  const data = (item: EnqueueItem) => ({ payload: Buffer.from(item.payload).toString("base64") });

  return {
    name: `bullmq ${BULLMQ_VERSION}`,
    queueName: options.queueName,
    async enqueue(item) {
      return enqueueResult(await queue.add("job", data(item), { removeOnComplete: true }));
    },
    async enqueueMany(items) {
      const added = await queue.addBulk(
        items.map((item) => ({ name: "job", data: data(item), opts: { removeOnComplete: true } })),
      );
      return added.map(enqueueResult);
    },
    async claim(claimOptions) {
      const leases: Lease[] = [];
      for (let i = 0; i < claimOptions.limit; i++) {
        const leaseId = `bench-${token++}`;
        const job = await worker.getNextJob(leaseId, { block: false });
        if (!job) break;
        const id = String(job.id);
        jobs.set(id, job);
        leases.push({
          id,
          leaseId,
          payload: Buffer.from((job.data as { payload: string }).payload, "base64"),
          priority: 0,
          partitionKey: undefined,
          availableAt: job.timestamp,
          enqueuedAt: job.timestamp,
          attempts: job.attemptsStarted,
          state: "leased",
          leaseExpiresAt: Date.now() + claimOptions.leaseMs,
        });
      }
      return leases;
    },
    async ack(lease: LeaseRef) {
      const job = jobs.get(lease.id);
      if (!job) throw new Error(`bullmq bench: unknown job ${lease.id}`);
      jobs.delete(lease.id);
      await job.moveToCompleted("done", lease.leaseId, false);
    },
    // BullMQ (open source) has no batch completion: the completions go out together, one
    // `moveToFinished` script per job, pipelined on the worker's connection.
    async ackMany(leases) {
      const finishing = leases.map((lease) => {
        const job = jobs.get(lease.id);
        if (!job) throw new Error(`bullmq bench: unknown job ${lease.id}`);
        jobs.delete(lease.id);
        return job.moveToCompleted("done", lease.leaseId, false);
      });
      await Promise.all(finishing);
      return { applied: [...leases], lost: [] };
    },
    retry: unsupported("retry"),
    retryMany: unsupported("retryMany"),
    extend: unsupported("extend"),
    remove: unsupported("remove"),
    get: unsupported("get"),
    nextAvailableAt: unsupported("nextAvailableAt"),
    counts: unsupported("counts"),
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
