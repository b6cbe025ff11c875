// Stream publish→deliver latency to SSE clients of the runtime (`GET /actors/streams/:ns/:key`):
// events are published in the server process (as an actor would) and timed when the client,
// in the same process over loopback HTTP, has parsed them. At a steady rate and one at a time,
// on memory and on SQLite storage (SQLite Store + SQLite PubSub).
// Run: pnpm --filter @troupe/runtime bench:streams
//   (BENCH_RATE events/s, BENCH_DURATION_MS, BENCH_STREAMS, BENCH_SERIAL, BENCH_STORAGE=memory,sqlite)
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { defineActor } from "@troupe/actors";
import { noopLogger } from "@troupe/core";
import { z } from "zod";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";
import { openSse, type SseClient } from "../test/sse-client.js";

const rate = Number(process.env.BENCH_RATE ?? 1_000);
const durationMs = Number(process.env.BENCH_DURATION_MS ?? 3_000);
const streamCount = Number(process.env.BENCH_STREAMS ?? 10);
const serialCount = Number(process.env.BENCH_SERIAL ?? 500);
const storages = (process.env.BENCH_STORAGE ?? "memory,sqlite").split(",");

// Streams come with the runtime's actor system; one type is enough to have one.
const Idle = defineActor({
  name: "Idle",
  key: "string",
  state: z.object({}),
  initialState: () => ({}),
  actions: { noop: () => {} },
});

let onDelivered: (latencyMs: number) => void = () => {};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function quantiles(samples: number[]) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

type Publish = (key: string) => Promise<unknown>;

async function steady(publish: Publish) {
  const samples: number[] = [];
  onDelivered = (ms) => samples.push(ms);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  while (performance.now() - start < durationMs) {
    const due = Math.floor(((performance.now() - start) * rate) / 1000);
    while (sent < due) pending.push(publish(`s${sent++ % streamCount}`));
    await sleep(1);
  }
  await Promise.all(pending);
  const deadline = performance.now() + 20_000;
  while (samples.length < sent && performance.now() < deadline) await sleep(5);
  if (samples.length < sent) throw new Error(`only ${samples.length} of ${sent} delivered`);
  const cpu = process.cpuUsage(cpuBefore);
  return { samples, cpuUs: (cpu.user + cpu.system) / sent };
}

async function serial(publish: Publish) {
  const samples: number[] = [];
  let next: () => void = () => {};
  onDelivered = (ms) => {
    samples.push(ms);
    next();
  };
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < serialCount; i++) {
    const delivered = new Promise<void>((resolve) => {
      next = resolve;
    });
    await publish(`s${i % streamCount}`);
    await delivered;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { samples, cpuUs: (cpu.user + cpu.system) / serialCount };
}

const scratch = mkdtempSync(join(tmpdir(), "troupe-sse-bench-"));
const rows: string[] = [];
const loadBefore = loadavg()[0] ?? 0;
try {
  for (const storage of storages) {
    const url = storage === "sqlite" ? `sqlite:${join(scratch, "sse.db")}` : "memory:";
    const runtime = createRuntime(parseRuntimeConfig({ storage: { url }, server: { port: 0 } }), {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      actors: { definitions: [Idle] },
    });
    const { url: base } = await runtime.start();
    const clients: SseClient[] = [];
    try {
      for (let i = 0; i < streamCount; i++) {
        const client = await openSse(`${base}/actors/streams/bench/s${i}`);
        client.onEvent = (event) => {
          const { data } = JSON.parse(event.data) as { data: { t: number } };
          onDelivered(performance.now() - data.t);
        };
        clients.push(client);
      }
      while (clients.some((client) => !client.comments.includes("connected"))) await sleep(5);
      const streams = runtime.streams;
      if (streams === undefined) throw new Error("the runtime has no streams");
      const publish: Publish = (key) => streams.publish("bench", key, { t: performance.now() });
      await serial(publish); // warm-up
      for (const [mode, run] of [
        [`${rate}/s over ${streamCount} streams`, steady],
        ["one at a time", serial],
      ] as const) {
        const { samples, cpuUs } = await run(publish);
        const q = quantiles(samples);
        rows.push(
          `| ${storage} | SSE client | ${mode} | ${samples.length} | ${q.p50.toFixed(2)} | ${q.p99.toFixed(2)} | ${q.max.toFixed(2)} | ${cpuUs.toFixed(0)} |`,
        );
      }
    } finally {
      for (const client of clients) client.close();
      await runtime.stop();
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(
  `\nSSE publish→deliver on loopback (load average ${loadBefore.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)}; server and client in one process, so CPU µs/event counts both)\n`,
);
console.log("| storage | consumer | load | events | p50 ms | p99 ms | max ms | CPU µs/event |");
console.log("| --- | --- | --- | --: | --: | --: | --: | --: |");
for (const row of rows) console.log(row);
process.exit(0);
