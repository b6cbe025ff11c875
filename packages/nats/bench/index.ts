// pnpm --filter @troupe/nats bench — Transport request/reply and PubSub delivery, in-memory vs NATS.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  createMemoryPubSub,
  createMemoryTransport,
  type PubSub,
  type Transport,
} from "@troupe/core";
import { measureThroughput, printTable } from "@troupe/testkit";
import { createNatsPubSub, createNatsTransport } from "../src/index.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 1500);
const payload = new Uint8Array(64).fill(7);
const runId = `bench_${process.pid}_${Date.now().toString(36)}`;

/** Latency percentile (µs) of sorted samples. */
function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ??
    Number.NaN
  );
}

/** Keeps `concurrency` operations in flight for `durationMs`, recording each one's latency. */
async function measureConcurrent(
  operation: () => Promise<unknown>,
  concurrency: number,
): Promise<{ opsPerSec: number; p50Us: number; p99Us: number }> {
  const warmupEnd = performance.now() + 200;
  const worker = async (until: number, record: ((us: number) => void) | undefined) => {
    while (performance.now() < until) {
      const before = performance.now();
      await operation();
      record?.((performance.now() - before) * 1000);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker(warmupEnd, undefined)));
  const samples: number[] = [];
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, () => worker(end, (us) => samples.push(us))),
  );
  const ms = performance.now() - start;
  const sorted = Float64Array.from(samples).sort();
  return {
    opsPerSec: (samples.length * 1000) / ms,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
  };
}

interface TransportPair {
  readonly name: string;
  /** The requesting side and the node id to request. */
  open(): Promise<{ client: Transport; target: string; close(): Promise<void> }>;
}

const echo = (request: Uint8Array) => request;

const transports: TransportPair[] = [
  {
    name: "memory",
    async open() {
      const network = createMemoryTransport();
      await network.listen("b", echo);
      return { client: network, target: "b", close: () => network.close() };
    },
  },
  {
    name: "nats (2 connections, 1 process)",
    async open() {
      const subjectPrefix = `${runId}.same`;
      const server = createNatsTransport({ servers: NATS_URL, subjectPrefix });
      const client = createNatsTransport({ servers: NATS_URL, subjectPrefix });
      await server.listen("b", echo);
      return {
        client,
        target: "b",
        close: async () => {
          await client.close();
          await server.close();
        },
      };
    },
  },
  {
    name: "nats (listener in a child process)",
    async open() {
      const subjectPrefix = `${runId}.child`;
      const child = await startChild(subjectPrefix);
      const client = createNatsTransport({ servers: NATS_URL, subjectPrefix });
      return {
        client,
        target: "b",
        close: async () => {
          await client.close();
          const exited = once(child, "exit");
          child.kill("SIGTERM");
          await exited;
        },
      };
    },
  },
];

/** The cross-process test's fixture, serving node "b". */
async function startChild(subjectPrefix: string): Promise<ChildProcess> {
  const fixture = fileURLToPath(new URL("../test/fixtures/listen-node.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=source", fixture], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { ...process.env, TROUPE_TEST_NATS_URL: NATS_URL, TROUPE_SUBJECT_PREFIX: subjectPrefix },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`bench child exited early (code ${code})`)));
  });
  return child;
}

const transportRows: Record<string, string | number>[] = [];
for (const pair of transports) {
  const { client, target, close } = await pair.open();
  try {
    const request = async () => {
      await client.request("a", target, payload);
    };
    const sequential = await measureThroughput(`${pair.name} sequential`, request, { durationMs });
    transportRows.push({
      transport: pair.name,
      mode: "sequential",
      "round trips/s": Math.round(sequential.opsPerSec),
      "p50 µs": Math.round(sequential.p50Us ?? Number.NaN),
      "p99 µs": Math.round(sequential.p99Us ?? Number.NaN),
    });
    const concurrent = await measureConcurrent(request, 100);
    transportRows.push({
      transport: pair.name,
      mode: "100 in flight",
      "round trips/s": Math.round(concurrent.opsPerSec),
      "p50 µs": Math.round(concurrent.p50Us),
      "p99 µs": Math.round(concurrent.p99Us),
    });
  } finally {
    await close();
  }
}
printTable("Transport request/reply (64-byte echo)", transportRows);

interface BusPair {
  readonly name: string;
  open(): { publisher: PubSub; subscriber: PubSub; close(): Promise<void> };
}
const buses: BusPair[] = [
  {
    name: "memory",
    open() {
      const bus = createMemoryPubSub();
      return { publisher: bus, subscriber: bus, close: () => bus.close() };
    },
  },
  {
    name: "nats (2 connections)",
    open() {
      const subjectPrefix = `${runId}.ps`;
      const publisher = createNatsPubSub({ servers: NATS_URL, subjectPrefix });
      const subscriber = createNatsPubSub({ servers: NATS_URL, subjectPrefix });
      return {
        publisher,
        subscriber,
        close: async () => {
          await publisher.close();
          await subscriber.close();
        },
      };
    },
  },
];

const pubSubRows: Record<string, string | number>[] = [];
const burst = 50_000;
for (const pair of buses) {
  const { publisher, subscriber, close } = pair.open();
  try {
    // Throughput: publish a burst without waiting, count until the subscriber has them all.
    let received = 0;
    let allArrived: () => void = () => {};
    await subscriber.subscribe("flood", () => {
      received++;
      if (received === burst) allArrived();
    });
    const arrived = new Promise<void>((resolve) => {
      allArrived = resolve;
    });
    const start = performance.now();
    for (let i = 0; i < burst; i++) await publisher.publish("flood", payload);
    await arrived;
    const floodMs = performance.now() - start;

    // Latency: one message at a time, publish → handler.
    let deliver: () => void = () => {};
    await subscriber.subscribe("ping", () => deliver());
    const single = await measureThroughput(
      `${pair.name} publish→receive`,
      () =>
        new Promise<void>((resolve) => {
          deliver = resolve;
          void publisher.publish("ping", payload);
        }),
      { durationMs },
    );
    pubSubRows.push({
      pubsub: pair.name,
      [`burst of ${burst.toLocaleString("en-US")}: messages/s`]: Math.round(
        (burst * 1000) / floodMs,
      ),
      "one at a time: messages/s": Math.round(single.opsPerSec),
      "p50 µs": Math.round(single.p50Us ?? Number.NaN),
      "p99 µs": Math.round(single.p99Us ?? Number.NaN),
    });
  } finally {
    await close();
  }
}
printTable("PubSub publish → receive (64-byte messages)", pubSubRows);
console.log(
  `Node ${process.version}, ${cpus().length} cores, load average ${loadavg()
    .map((load) => load.toFixed(1))
    .join(" ")} at the end, NATS at ${NATS_URL}, ${durationMs} ms per measurement.`,
);
