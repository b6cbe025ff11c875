// One path of the realtime bench, its servers in the calling process, the SDK's subscriber and
// the publisher in processes of their own; then the cold round, the warm-up, the warm rounds and the
// flood (see ./realtime.ts for what each row means).
import { fork } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { Worker } from "node:worker_threads";
import type { PubSub } from "@troupe/core";
import { countOver, GOAL_MS, PacedSamples, percentile } from "./realtime-samples.js";
import { clusteredPaths, type RealtimeServer, startRealtimeServer } from "./realtime-server.js";

const RATE = Number(process.env.INNGEST_BENCH_RT_RATE ?? 1000);
const SECONDS = Number(process.env.INNGEST_BENCH_RT_SECONDS ?? 10);
const FLOOD = Number(process.env.INNGEST_BENCH_RT_FLOOD ?? 5_000);
/** Messages published flat out before the cold round: connections, not the JIT. */
const COLD_WARMUP = 500;
/** Messages published flat out after the cold round, before the warm rounds (default 5,000). */
const WARMUP = Number(process.env.INNGEST_BENCH_RT_WARMUP ?? 5_000);
/** Warm paced rounds per path (default 1). */
const ROUNDS = Math.max(1, Number(process.env.INNGEST_BENCH_RT_ROUNDS ?? 1));
/** INNGEST_BENCH_RT_COLD=0 skips the cold round. */
const COLD = process.env.INNGEST_BENCH_RT_COLD !== "0";
/** Where the publisher runs: "process" (default) or "thread". */
const PUBLISHER = process.env.INNGEST_BENCH_RT_PUBLISHER === "thread" ? "thread" : "process";
/** Where to write each paced message's timeline (one file per row), if set. */
const TRACE_DIR = process.env.INNGEST_BENCH_RT_TRACE;
/**
 * Where to write a sampled heap profile of what survives young-generation collections (is
 * promoted to old space) in each paced round: `<prefix>-<row>.heapprofile`, if set.
 */
const PROMOTED = process.env.INNGEST_BENCH_RT_PROMOTED;

type Row = Record<string, string | number>;

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

const wallNow = () => performance.timeOrigin + performance.now();

/** The paced round being measured, whose arrivals the servers note. */
let current: PacedSamples | undefined;

/** A server that notes when each paced publish (by its `seq`) reached its fetch handler. */
const startServer = (pubsub: PubSub | undefined) =>
  startRealtimeServer(pubsub, (inner) => (request, ...rest) => {
    const samples = current;
    if (samples) {
      // The sequence number ends the query (`&seq=<n>`): read without parsing the URL.
      const url = request.url;
      const at = url.lastIndexOf("seq=");
      if (at > 0) {
        const seq = Number(url.slice(at + 4));
        if (seq >= 0 && seq < samples.total) samples.atServer[seq] = wallNow();
      }
    }
    return inner(request, ...rest);
  });

/**
 * Write-type system calls (`write`, `writev`, `sendmsg`…) this process has made so far, from
 * Linux's `/proc/self/io` (`NaN` elsewhere): the bench divides them by the messages of a phase.
 */
function writeSyscalls(): number {
  try {
    const match = /^syscw:\s*(\d+)/m.exec(readFileSync("/proc/self/io", "utf8"));
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Write system calls per message, to two decimals ("-" where they cannot be read). */
const perMessage = (writes: number, messages: number) =>
  Number.isNaN(writes) ? "-" : (writes / Math.max(1, messages)).toFixed(2);

const oldSpaceUsed = () =>
  getHeapSpaceStatistics().find((space) => space.space_name === "old_space")?.space_used_size ?? 0;

const profiler = new Session();
if (PROMOTED) profiler.connect();

/** What the subscriber process answers for a phase. */
interface SubscriberResult {
  complete: boolean;
  received: number;
  cpuMicros: number;
  gc: { majors: number; all: number; max: number };
  /** Old-space growth over the phase. */
  promotedBytes: number;
  sent?: Float64Array;
  due?: Float64Array;
  delivered?: Float64Array;
  latencies?: Float64Array;
}

/** The SDK's subscriber in a process of its own (./realtime-subscriber.mjs). */
async function startSubscriber(url: string, channel: string, jwt: string) {
  const child = fork(new URL("./realtime-subscriber.mjs", import.meta.url), [], {
    env: { ...process.env, RT_SUBSCRIBE_URL: url, RT_CHANNEL: channel, RT_JWT: jwt },
    // INNGEST_BENCH_RT_SUBSCRIBER_NODE_FLAGS: Node flags for the subscriber (`--trace-gc`).
    execArgv: (process.env.INNGEST_BENCH_RT_SUBSCRIBER_NODE_FLAGS ?? "").split(" ").filter(Boolean),
    serialization: "advanced",
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`subscriber exited: ${code}`));
      child.once("exit", onExit);
      child.once("message", (message: T) => {
        child.off("exit", onExit);
        resolve(message);
      });
    });
  await next<{ ready: true }>();
  return {
    /** Resolves once the subscriber expects `expect` messages, with a promise of its answer. */
    async arm(expect: number, paced: boolean, timeoutMs: number) {
      const armed = next<{ armed: true }>();
      child.send({ expect, paced, timeoutMs });
      await armed;
      return { result: next<SubscriberResult>() };
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.send({ close: true });
      }),
  };
}

async function measurePath(
  label: string,
  publishTo: RealtimeServer,
  subscribeAt: RealtimeServer,
): Promise<Row[]> {
  const channel = `bench-${Date.now().toString(36)}`;
  const tokenResponse = await fetch(`${publishTo.url}/v1/realtime/token`, {
    method: "POST",
    body: JSON.stringify([{ channel, name: "t", kind: "run" }]),
  });
  const { jwt } = (await tokenResponse.json()) as { jwt: string };
  const subscriber = await startSubscriber(subscribeAt.url, channel, jwt);
  const publishUrl = `${publishTo.url}/v1/realtime/publish?channel=${channel}&topic=t`;
  // One publisher for the whole path: a process of its own, as a publishing app would be, unless
  // INNGEST_BENCH_RT_PUBLISHER=thread puts it on a thread here.
  const script = new URL("./realtime-publisher.mjs", import.meta.url);
  const worker: PublisherPort =
    PUBLISHER === "thread"
      ? new Worker(script, { workerData: { url: publishUrl, concurrency: 32 } })
      : childPublisher(script, publishUrl, 32);
  const publish = (rate: number, total: number) =>
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
  const flatOut = async (count: number) => {
    const { result } = await subscriber.arm(count, false, 30_000);
    await publish(0, count);
    await result;
  };

  const paced = async (row: string): Promise<Row> => {
    const total = RATE * SECONDS;
    const samples = new PacedSamples(total);
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
    if (PROMOTED) {
      await profiler.post("HeapProfiler.startSampling", {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: false,
      });
    }
    const { result } = await subscriber.arm(total, true, SECONDS * 1000 + 20_000);
    gc.observe({ entryTypes: ["gc"] });
    loop.enable();
    current = samples;
    const oldBefore = oldSpaceUsed();
    const cpuBefore = process.cpuUsage();
    const writesBefore = writeSyscalls();
    if (process.env.INNGEST_BENCH_RT_MARK) console.log(`=== PACED START ${row}`);
    const pacedSeconds = await publish(RATE, total);
    const answer = await result;
    const cpu = process.cpuUsage(cpuBefore);
    const writes = writeSyscalls() - writesBefore;
    const oldAfter = oldSpaceUsed();
    if (process.env.INNGEST_BENCH_RT_MARK) console.log(`=== PACED END ${row}`);
    current = undefined;
    loop.disable();
    gc.disconnect();
    if (PROMOTED) {
      const { profile } = await profiler.post("HeapProfiler.stopSampling");
      writeFileSync(`${PROMOTED}-${row.replace(/\W+/g, "-")}.heapprofile`, JSON.stringify(profile));
    }
    samples.adopt(answer as Required<SubscriberResult>);
    const { total: latencies, toServer } = samples.latencies();
    if (TRACE_DIR) {
      mkdirSync(TRACE_DIR, { recursive: true });
      writeFileSync(join(TRACE_DIR, `${row.replace(/\W+/g, "-")}.txt`), samples.traceLines());
    }
    const n = samples.received;
    return {
      path: row,
      load: `${RATE}/s paced, ${SECONDS} s`,
      sent: total,
      received: `${n}${answer.complete ? "" : " (timed out)"}`,
      "p50 ms": percentile(latencies, 50).toFixed(2),
      "p99 ms": percentile(latencies, 99).toFixed(2),
      "max ms": percentile(latencies, 100).toFixed(2),
      [`> ${GOAL_MS} ms`]: countOver(latencies, GOAL_MS),
      "msgs/s": Math.round(n / pacedSeconds),
      "CPU µs/msg server/sub": `${Math.round((cpu.user + cpu.system) / Math.max(1, n))}/${Math.round(answer.cpuMicros / Math.max(1, n))}`,
      // The servers' write system calls per message: HTTP reply, PubSub publish, WebSocket frame.
      "writes/msg server": perMessage(writes, n),
      "to server p99": percentile(toServer, 99).toFixed(2),
      "loop delay p99/max": `${(loop.percentile(99) / 1e6).toFixed(1)}/${(loop.max / 1e6).toFixed(1)}`,
      "GC major/all, max ms": `${majors}/${pauses.length}, ${Math.max(0, ...pauses).toFixed(1)}`,
      "sub GC major/all, max ms": `${answer.gc.majors}/${answer.gc.all}, ${answer.gc.max.toFixed(1)}`,
      // Old-space growth over the round: what young-generation collections promoted (net of
      // what a major collection freed, so only shown for a round without one).
      "promoted KB/msg server/sub": `${majors === 0 ? ((oldAfter - oldBefore) / 1024 / Math.max(1, n)).toFixed(2) : "-"}/${answer.gc.majors === 0 ? (answer.promotedBytes / 1024 / Math.max(1, n)).toFixed(2) : "-"}`,
    };
  };

  const rows: Row[] = [];
  try {
    // Connections and the subscription; then the cold round (the JIT has seen 500 messages).
    await flatOut(COLD_WARMUP);
    if (COLD) rows.push(await paced(`${label}, cold (after ${COLD_WARMUP})`));
    // Warm-up until the JIT settles, then the steady-state rounds.
    await flatOut(WARMUP);
    for (let round = 1; round <= ROUNDS; round += 1) {
      rows.push(await paced(ROUNDS === 1 ? `${label}, warm` : `${label}, warm ${round}`));
    }
    // Flood: 32 publishers back to back.
    const { result } = await subscriber.arm(FLOOD, false, 30_000);
    const floodStart = performance.now();
    const writesBefore = writeSyscalls();
    await publish(0, FLOOD);
    const answer = await result;
    const writes = writeSyscalls() - writesBefore;
    const floodSeconds = (performance.now() - floodStart) / 1000;
    const latencies = (answer.latencies ?? new Float64Array()).sort();
    rows.push({
      path: label,
      load: "flood, 32 publishers",
      sent: FLOOD,
      received: answer.received,
      "p50 ms": percentile(latencies, 50).toFixed(2),
      "p99 ms": percentile(latencies, 99).toFixed(2),
      "max ms": percentile(latencies, 100).toFixed(2),
      "msgs/s": Math.round(answer.received / floodSeconds),
      "writes/msg server": perMessage(writes, answer.received),
    });
  } finally {
    await subscriber.close();
    await worker.terminate();
  }
  return rows;
}

/** The path keys, in the order the bench runs them. */
export const PATH_KEYS = ["one", "redis", "nats"] as const;

/** Measures the path `key` ("one", "redis" or "nats") in this process. */
export async function pathRows(key: string): Promise<Row[]> {
  if (key === "one") {
    const single = await startServer(undefined);
    try {
      return await measurePath("one server (in-process)", single, single);
    } finally {
      await single.close();
    }
  }
  const tag = `rtbench${Date.now().toString(36)}`;
  const found = clusteredPaths(tag).find(([candidate]) => candidate === key);
  if (!found) throw new Error(`realtime bench: no path "${key}" (one, redis, nats)`);
  const [, label, open] = found;
  const publisher = await startServer(open());
  const subscriber = await startServer(open());
  try {
    return await measurePath(label, publisher, subscriber);
  } finally {
    await publisher.close();
    await subscriber.close();
  }
}
