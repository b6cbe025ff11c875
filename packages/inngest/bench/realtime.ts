/**
 * Realtime latency and throughput: a publisher on its own thread (one per path, kept through the
 * warm-up, paced and flood phases, as an app's process would be) POSTs `/v1/realtime/publish`
 * over loopback HTTP (32 keep-alive connections), a subscriber receives through the official SDK's realtime client (`subscribe`
 * of `inngest/realtime`) over a WebSocket. Latency is publish start → the SDK's callback, on
 * the shared wall clock (`timeOrigin + now`).
 *
 * - paced: `INNGEST_BENCH_RT_RATE` messages/s (default 1,000) for `INNGEST_BENCH_RT_SECONDS`
 *   (default 5), each publish started on schedule without waiting for the previous one;
 * - flood: `INNGEST_BENCH_RT_FLOOD` messages (default 5,000) as fast as 32 concurrent
 *   publishers go, messages/s received.
 *
 * Paths: one Troupe server (in-process PubSub), and two Troupe servers sharing Redis or NATS
 * (publish through one, subscribe on the other), as two runtime processes would.
 *
 * "CPU µs/msg" is the process's CPU time (every thread: publisher, servers, subscriber, GC) per
 * paced message, which the machine's load barely moves. Where the paced milliseconds go: "to server" is publish start → the request reaching the
 * server's fetch handler (the publisher's pool, loopback, HTTP parsing); the rest is the server,
 * the PubSub, the WebSocket and the SDK's client. "loop delay" is this process's event-loop
 * delay (`monitorEventLoopDelay`), "GC" its major and all collections and the longest pause, in the
 * paced phase: a stall there delays every message in flight, which is what a p99 at 1,000/s
 * (50 messages of 5,000) shows.
 */

import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import type { PubSub } from "@troupe/core";
import { subscribe } from "inngest/realtime";
import { WebSocket } from "ws";
import { clusteredPaths, type RealtimeServer, startRealtimeServer } from "./realtime-server.js";

if (typeof globalThis.WebSocket === "undefined") Object.assign(globalThis, { WebSocket });

const RATE = Number(process.env.INNGEST_BENCH_RT_RATE ?? 1000);
const SECONDS = Number(process.env.INNGEST_BENCH_RT_SECONDS ?? 5);
const FLOOD = Number(process.env.INNGEST_BENCH_RT_FLOOD ?? 5_000);
/** Messages published flat out before each path's paced phase (default 500). */
const WARMUP = Number(process.env.INNGEST_BENCH_RT_WARMUP ?? 500);
/** Where the publisher runs: "process" (default) or "thread". */
const PUBLISHER = process.env.INNGEST_BENCH_RT_PUBLISHER === "thread" ? "thread" : "process";

/** What the bench needs of its publisher, a worker thread or a child process. */
interface PublisherPort {
  once(
    event: "message",
    listener: (message: { seconds?: number; error?: string }) => void,
  ): unknown;
  once(event: "error", listener: (error: Error) => void): unknown;
  off(event: "error", listener: (error: Error) => void): unknown;
  postMessage(message: { rate: number; total: number }): void;
  terminate(): Promise<unknown>;
}

function childPublisher(script: URL, url: string, concurrency: number): PublisherPort {
  const child = fork(script, [], {
    env: { ...process.env, RT_PUBLISH_URL: url, RT_PUBLISH_CONCURRENCY: String(concurrency) },
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return {
    once: (event: string, listener: (value: never) => void) =>
      child.once(event, listener as (...args: unknown[]) => void),
    off: (event: string, listener: (value: never) => void) =>
      child.off(event, listener as (...args: unknown[]) => void),
    postMessage: (message) => {
      child.send(message);
    },
    terminate: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(undefined);
        child.once("exit", resolve);
        child.kill();
      }),
  } as PublisherPort;
}

/** Where to write each paced message's timeline (one file per row), if set. */
const TRACE_DIR = process.env.INNGEST_BENCH_RT_TRACE;

/** When each publish (by its `sent_at`) reached a server's fetch handler. */
const arrivals = new Map<number, number>();
const wallNow = () => performance.timeOrigin + performance.now();

/** A server that notes when each publish (by its `sent_at`) reached its fetch handler. */
const startServer = (pubsub: PubSub | undefined) =>
  startRealtimeServer(pubsub, (inner) => (request, ...rest) => {
    const at = wallNow();
    const sentAt = request.url.includes("sent_at=")
      ? Number(new URL(request.url).searchParams.get("sent_at"))
      : Number.NaN;
    if (!Number.isNaN(sentAt)) arrivals.set(sentAt, at);
    return inner(request, ...rest);
  });

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

async function measurePath(
  label: string,
  publishTo: RealtimeServer,
  subscribeAt: RealtimeServer,
): Promise<Record<string, string | number>[]> {
  const channel = `bench-${Date.now().toString(36)}`;
  const tokenResponse = await fetch(`${publishTo.url}/v1/realtime/token`, {
    method: "POST",
    body: JSON.stringify([{ channel, name: "t", kind: "run" }]),
  });
  const { jwt } = (await tokenResponse.json()) as { jwt: string };
  let received = 0;
  const latencies: number[] = [];
  const sentTimes: number[] = [];
  /** Paced messages as received: [due, sent, delivered] on the shared wall clock. */
  const traced: [number, number, number][] = [];
  let onCount: (() => void) | undefined;
  let want = 0;
  const subscription = (await subscribe({
    channel,
    topics: ["t"],
    key: jwt,
    apiBaseUrl: subscribeAt.url,
    validate: false,
    onMessage: (message: { data: { at: number; due?: number } }) => {
      const now = performance.timeOrigin + performance.now();
      latencies.push(now - message.data.at);
      sentTimes.push(message.data.at);
      if (message.data.due !== undefined) traced.push([message.data.due, message.data.at, now]);
      received += 1;
      if (received >= want) onCount?.();
    },
  } as unknown as Parameters<typeof subscribe>[0])) as unknown as { close(): void };
  const publishUrl = `${publishTo.url}/v1/realtime/publish?channel=${channel}&topic=t`;
  // One publisher for the whole path (warm-up, paced and flood): a process of its own, as a
  // publishing app would be, unless INNGEST_BENCH_RT_PUBLISHER=thread puts it on a thread here.
  const script = new URL("./realtime-publisher.mjs", import.meta.url);
  const worker: PublisherPort =
    PUBLISHER === "thread"
      ? new Worker(script, { workerData: { url: publishUrl, concurrency: 32 } })
      : childPublisher(script, publishUrl, 32);
  const publishFromThread = (rate: number, total: number) =>
    new Promise<number>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      worker.once("error", onError);
      worker.once("message", (done: { seconds?: number; error?: string }) => {
        worker.off("error", onError);
        if (done.error !== undefined) reject(new Error(done.error));
        else resolve(done.seconds ?? Number.NaN);
      });
      worker.postMessage({ rate, total });
    });
  const receivedAll = (count: number, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      want = count;
      if (received >= count) return resolve(true);
      const timer = setTimeout(() => resolve(false), timeoutMs);
      onCount = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });

  // Warm-up: connections, JIT (INNGEST_BENCH_RT_WARMUP messages, flat out).
  await publishFromThread(0, WARMUP);
  await receivedAll(WARMUP, 10_000);
  received = 0;
  latencies.length = 0;

  // Paced at RATE messages/s, with the event loop and GC watched.
  const total = RATE * SECONDS;
  arrivals.clear();
  sentTimes.length = 0;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const pauses: number[] = [];
  let majors = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      pauses.push(entry.duration);
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors += 1;
    }
  });
  gc.observe({ entryTypes: ["gc"] });
  loop.enable();
  const cpuBefore = process.cpuUsage();
  if (process.env.INNGEST_BENCH_RT_MARK) console.log(`=== PACED START ${label}`);
  const pacedSeconds = await publishFromThread(RATE, total);
  const complete = await receivedAll(total, 20_000);
  const cpu = process.cpuUsage(cpuBefore);
  if (process.env.INNGEST_BENCH_RT_MARK) console.log(`=== PACED END ${label}`);
  loop.disable();
  gc.disconnect();
  const pacedLatencies = [...latencies].sort((a, b) => a - b);
  const pacedReceived = received;
  const toServer = sentTimes
    .map((sent) => (arrivals.get(sent) ?? Number.NaN) - sent)
    .filter((ms) => !Number.isNaN(ms))
    .sort((a, b) => a - b);
  if (TRACE_DIR) {
    // One line per paced message: due, sent, reached the server, delivered (ms, wall clock).
    const lines = traced.map(([due, sent, delivered]) =>
      [due, sent, arrivals.get(sent) ?? Number.NaN, delivered].map((ms) => ms.toFixed(3)).join(" "),
    );
    mkdirSync(TRACE_DIR, { recursive: true });
    const file = join(TRACE_DIR, `${label.replace(/\W+/g, "-")}.txt`);
    writeFileSync(file, `${lines.join("\n")}\n`);
  }

  // Flood: 32 publishers back to back.
  received = 0;
  latencies.length = 0;
  const floodStart = performance.now();
  await publishFromThread(0, FLOOD);
  await receivedAll(FLOOD, 30_000);
  const floodSeconds = (performance.now() - floodStart) / 1000;
  subscription.close();
  await worker.terminate();
  const floodLatencies = [...latencies].sort((a, b) => a - b);
  return [
    {
      path: label,
      load: `${RATE}/s paced`,
      sent: total,
      received: `${pacedReceived}${complete ? "" : " (timed out)"}`,
      "p50 ms": percentile(pacedLatencies, 50).toFixed(2),
      "p99 ms": percentile(pacedLatencies, 99).toFixed(2),
      "msgs/s": Math.round(pacedReceived / pacedSeconds),
      "CPU µs/msg": Math.round((cpu.user + cpu.system) / Math.max(1, pacedReceived)),
      "to server p99": percentile(toServer, 99).toFixed(2),
      "loop delay p99/max": `${(loop.percentile(99) / 1e6).toFixed(1)}/${(loop.max / 1e6).toFixed(1)}`,
      "GC major/all, max ms": `${majors}/${pauses.length}, ${Math.max(0, ...pauses).toFixed(1)}`,
    },
    {
      path: label,
      load: "flood, 32 publishers",
      sent: FLOOD,
      received,
      "p50 ms": percentile(floodLatencies, 50).toFixed(2),
      "p99 ms": percentile(floodLatencies, 99).toFixed(2),
      "msgs/s": Math.round(received / floodSeconds),
      "CPU µs/msg": "",
      "to server p99": "",
      "loop delay p99/max": "",
      "GC major/all, max ms": "",
    },
  ];
}

/** The realtime rows of the bench table. */
export async function realtimeRows(): Promise<Record<string, string | number>[]> {
  const rows: Record<string, string | number>[] = [];
  // INNGEST_BENCH_RT_PATHS (default "one,redis,nats") picks the paths to measure.
  const paths = new Set((process.env.INNGEST_BENCH_RT_PATHS ?? "one,redis,nats").split(","));
  const single = paths.has("one") ? await startServer(undefined) : undefined;
  if (single) {
    try {
      // INNGEST_BENCH_RT_ROUNDS > 1 measures the in-process path again after the first round,
      // so the first round's one-time costs (JIT, connection set-up) show apart from the steady state.
      const rounds = Math.max(1, Number(process.env.INNGEST_BENCH_RT_ROUNDS ?? 1));
      for (let round = 1; round <= rounds; round++) {
        const label =
          rounds === 1 ? "one server (in-process)" : `one server (in-process), round ${round}`;
        rows.push(...(await measurePath(label, single, single)));
      }
    } finally {
      await single.close();
    }
  }
  const tag = `rtbench${Date.now().toString(36)}`;
  for (const [key, label, open] of clusteredPaths(tag)) {
    if (!paths.has(key)) continue;
    const publisher = await startServer(open());
    const subscriber = await startServer(open());
    try {
      rows.push(...(await measurePath(label, publisher, subscriber)));
    } finally {
      await publisher.close();
      await subscriber.close();
    }
  }
  return rows;
}
