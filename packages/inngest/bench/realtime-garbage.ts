/**
 * Heap bytes allocated per realtime message, the whole path in one process: an HTTP publish
 * (`POST /v1/realtime/publish`), the hub and the PubSub (in-process, or two servers on Redis or
 * NATS), the WebSocket send, and a plain `ws` client that only counts what arrives. Unlike a
 * latency, this does not move with the machine's load, so old and new code compare run by run.
 *
 * Run with a young generation large enough that no collection falls inside the measured window
 * (the script checks, and says so if one did):
 * `node --min-semi-space-size=256 --max-semi-space-size=256 --import tsx --conditions=source bench/realtime-garbage.ts`
 * "CPU µs/msg" is the process's CPU time per message over the same window (client included).
 * (env: INNGEST_BENCH_GARBAGE_MESSAGES, default 2,000; INNGEST_BENCH_RT_PATHS as the bench).
 */
import { writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { Session } from "node:inspector/promises";
import { PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";
import { printTable } from "@troupe/testkit";
import { WebSocket } from "ws";
import { clusteredPaths, startRealtimeServer } from "./realtime-server.js";

const MESSAGES = Number(process.env.INNGEST_BENCH_GARBAGE_MESSAGES ?? 2_000);
/** Where to write a sampled allocation profile per path (`<prefix>-<path>.heapprofile`), if set. */
const PROFILE = process.env.INNGEST_BENCH_GARBAGE_PROFILE;
const profiler = new Session();
if (PROFILE) profiler.connect();

async function measure(label: string, publishPort: number, subscribePort: number) {
  const channel = `garbage-${Date.now().toString(36)}`;
  const tokenResponse = await fetch(`http://127.0.0.1:${publishPort}/v1/realtime/token`, {
    method: "POST",
    body: JSON.stringify([{ channel, name: "t", kind: "run" }]),
  });
  const { jwt } = (await tokenResponse.json()) as { jwt: string };
  const socket = new WebSocket(`ws://127.0.0.1:${subscribePort}/v1/realtime/connect?token=${jwt}`);
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  let received = 0;
  let wake: (() => void) | undefined;
  socket.on("message", () => {
    received += 1;
    wake?.();
  });
  const body = JSON.stringify({ at: 1_765_000_000_000.123, due: 1_765_000_000_000 });
  const path = `/v1/realtime/publish?channel=${channel}&topic=t`;
  const headers = { "content-type": "application/json", "content-length": body.length };
  const publishOne = () =>
    new Promise<void>((resolve, reject) => {
      const outgoing = httpRequest(
        { host: "127.0.0.1", port: publishPort, path, method: "POST", headers },
        (response) => {
          response.resume();
          response.on("end", resolve);
        },
      );
      outgoing.on("error", reject);
      outgoing.end(body);
    });
  const run = async (count: number) => {
    const target = received + count;
    for (let i = 0; i < count; i += 1) await publishOne();
    while (received < target) await new Promise<void>((resolve) => (wake = resolve));
  };
  await run(500); // warm-up: JIT, connections
  const collections: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      collections.push(
        (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0,
      );
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const before = getHeapStatistics().used_heap_size;
  if (PROFILE) {
    await profiler.post("HeapProfiler.startSampling", {
      samplingInterval: 512,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const cpuBefore = process.cpuUsage();
  await run(MESSAGES);
  const cpu = process.cpuUsage(cpuBefore);
  const after = getHeapStatistics().used_heap_size;
  if (PROFILE) {
    const { profile } = await profiler.post("HeapProfiler.stopSampling");
    writeFileSync(`${PROFILE}-${label.replace(/\W+/g, "-")}.heapprofile`, JSON.stringify(profile));
  }
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  socket.close();
  if (process.env.INNGEST_BENCH_GARBAGE_GC_LOG) console.log(label, collections);
  const gcs = collections.length;
  return {
    path: label,
    messages: MESSAGES,
    "KB allocated/msg":
      gcs > 0
        ? `(${gcs} GCs: raise --min-semi-space-size)`
        : ((after - before) / MESSAGES / 1024).toFixed(2),
    // The whole process: the client's side of each request too.
    "CPU µs/msg": Math.round((cpu.user + cpu.system) / MESSAGES),
  };
}

const rows: Record<string, string | number>[] = [];
const paths = new Set((process.env.INNGEST_BENCH_RT_PATHS ?? "one,redis,nats").split(","));
if (paths.has("one")) {
  const single = await startRealtimeServer(undefined);
  rows.push(await measure("one server (in-process)", single.port, single.port));
  await single.close();
}
const tag = `rtgarbage${Date.now().toString(36)}`;
for (const [key, label, open] of clusteredPaths(tag)) {
  if (!paths.has(key)) continue;
  const publisher = await startRealtimeServer(open());
  const subscriber = await startRealtimeServer(open());
  rows.push(await measure(label, publisher.port, subscriber.port));
  await publisher.close();
  await subscriber.close();
}
printTable("Realtime: heap bytes allocated per message (publish → WebSocket client)", rows);
