import { performance } from "node:perf_hooks";
import type { Lease, Queue } from "@troupe/core";

/** One backlog scenario of {@link benchQueueBacklog}. */
export interface BacklogScenario {
  /** Items per claim (and per ack: one `ack` for 1, one `ackMany` for more). */
  readonly batch: number;
  /** How many items wait in the queue when each measurement starts. */
  readonly queued: number;
  /** How many consumers claim and ack at once (each one cycle at a time). */
  readonly consumers: number;
}

/**
 * The backlog scenarios the adapters' benches report, so their tables line up: one item or 50
 * per claim, 5,000 or 20,000 queued, 1 or 10 consumers.
 */
export const BACKLOG_SCENARIOS: readonly BacklogScenario[] = [
  { batch: 1, queued: 5000, consumers: 1 },
  { batch: 50, queued: 5000, consumers: 1 },
  { batch: 1, queued: 20_000, consumers: 1 },
  { batch: 50, queued: 20_000, consumers: 1 },
  { batch: 1, queued: 5000, consumers: 10 },
  { batch: 50, queued: 20_000, consumers: 10 },
];

/** One queue implementation to measure; `create` gets a queue name unique to the scenario. */
export interface BacklogCandidate {
  /** The name shown in the table. */
  readonly name: string;
  /** Opens an empty queue named `queueName`. */
  create(queueName: string): Queue | Promise<Queue>;
}

/** Options of {@link benchQueueBacklog}. */
export interface BacklogBenchOptions {
  /** How long each measured slice runs, in ms. Default 1,000. */
  readonly sliceMs?: number;
  /** Slices per candidate and scenario, the candidates taking turns. Default 3. */
  readonly slices?: number;
  /** Payload size in bytes. Default 100. */
  readonly payloadBytes?: number;
}

const FILL_CHUNK = 1000;

/** Claims and acks one batch; resolves to how many items it finished (0: the queue was empty). */
async function cycle(queue: Queue, batch: number): Promise<number> {
  const leases: Lease[] = await queue.claim({ limit: batch, leaseMs: 60_000 });
  const [first] = leases;
  if (!first) return 0;
  if (batch === 1) await queue.ack(first);
  else await queue.ackMany(leases);
  return leases.length;
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index] ?? 0;
}

interface Totals {
  cycles: number;
  items: number;
  ms: number;
  latenciesUs: number[];
  slicesWon: number;
}

/**
 * Claim→ack cycles against a standing backlog, the shape of a worker fleet catching up: before
 * every slice the queue is topped up to `queued` items (not measured), then `consumers` loops
 * each claim `batch` items and ack them (`ack` for one item, `ackMany` for a batch) as fast as
 * they can for `sliceMs`. The candidates take turns slice by slice, so load from other processes
 * hits them alike; totals over all slices give cycles/s, items/s and per-cycle p50/p99 (one
 * claim plus its ack). Returns rows for `printTable`, with the ratio of cycles/s to the first
 * candidate's in the same scenario.
 */
export async function benchQueueBacklog(
  candidates: readonly BacklogCandidate[],
  scenarios: readonly BacklogScenario[],
  options: BacklogBenchOptions = {},
): Promise<Record<string, string | number>[]> {
  const sliceMs = options.sliceMs ?? 1000;
  const slices = options.slices ?? 3;
  const payload = new Uint8Array(options.payloadBytes ?? 100).fill(120);
  const rows: Record<string, string | number>[] = [];
  for (const scenario of scenarios) {
    const label = `b=${scenario.batch}, ${scenario.queued.toLocaleString("en-US")} queued, ${scenario.consumers} consumer${scenario.consumers === 1 ? "" : "s"}`;
    const queueName = `backlog-b${scenario.batch}-q${scenario.queued}-c${scenario.consumers}`;
    const queues: Queue[] = [];
    try {
      for (const candidate of candidates) queues.push(await candidate.create(queueName));
      const depth = queues.map(() => 0);
      const totals: Totals[] = queues.map(() => ({
        cycles: 0,
        items: 0,
        ms: 0,
        latenciesUs: [],
        slicesWon: 0,
      }));
      const topUp = async (index: number) => {
        const queue = queues[index] as Queue;
        while ((depth[index] ?? 0) < scenario.queued) {
          const count = Math.min(FILL_CHUNK, scenario.queued - (depth[index] ?? 0));
          await queue.enqueueMany(Array.from({ length: count }, () => ({ payload })));
          depth[index] = (depth[index] ?? 0) + count;
        }
      };
      const runSlice = async (index: number, durationMs: number, record: boolean) => {
        const queue = queues[index] as Queue;
        const total = totals[index] as Totals;
        await topUp(index);
        const start = performance.now();
        const end = start + durationMs;
        let cycles = 0;
        const consumer = async () => {
          while (performance.now() < end) {
            const before = performance.now();
            const finished = await cycle(queue, scenario.batch);
            if (finished === 0) return;
            depth[index] = (depth[index] ?? 0) - finished;
            cycles++;
            if (record) {
              total.latenciesUs.push((performance.now() - before) * 1000);
              total.items += finished;
            }
          }
        };
        await Promise.all(Array.from({ length: scenario.consumers }, consumer));
        const ms = performance.now() - start;
        if (record) {
          total.cycles += cycles;
          total.ms += ms;
        }
        return (cycles * 1000) / ms;
      };
      // Warm-up: connections, prepared statements, scripts, JIT.
      for (const index of queues.keys()) await runSlice(index, Math.min(300, sliceMs), false);
      for (let slice = 0; slice < slices; slice++) {
        const order = [...queues.keys()];
        if (slice % 2 === 1) order.reverse();
        const rates: number[] = queues.map(() => 0);
        for (const index of order) rates[index] = await runSlice(index, sliceMs, true);
        const best = rates.indexOf(Math.max(...rates));
        const winner = totals[best];
        if (winner) winner.slicesWon++;
      }
      const firstRate =
        totals[0] && totals[0].ms > 0 ? (totals[0].cycles * 1000) / totals[0].ms : 0;
      for (const [index, candidate] of candidates.entries()) {
        const total = totals[index] as Totals;
        const rate = total.ms > 0 ? (total.cycles * 1000) / total.ms : 0;
        const sorted = total.latenciesUs.sort((a, b) => a - b);
        rows.push({
          scenario: label,
          adapter: candidate.name,
          "cycles/s": Math.round(rate),
          "items/s": Math.round(total.ms > 0 ? (total.items * 1000) / total.ms : 0),
          "p50 µs": Math.round(percentile(sorted, 0.5)),
          "p99 µs": Math.round(percentile(sorted, 0.99)),
          "slices won": `${total.slicesWon}/${slices}`,
          [`vs ${candidates[0]?.name ?? "first"}`]:
            firstRate > 0 ? `${(rate / firstRate).toFixed(2)}x` : "",
        });
      }
    } finally {
      await Promise.all(queues.map((queue) => queue.close()));
    }
  }
  return rows;
}
