// The runtime's own overhead over HTTP on loopback: what a request costs before any engine work
// (/health), an event send through the Inngest event API onto SQLite (/e/:key), and a /metrics
// render, and actor calls over REST (a write turn saved to SQLite, a read-only turn). Sequential
// requests from one client, so the numbers are latency, not peak throughput. The event send is
// measured twice, side by side: SQLite with synchronous NORMAL (dev's default) and FULL (start's).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineActor } from "@troupe/actors";
import { noopLogger } from "@troupe/core";
import { printTable } from "@troupe/testkit";
import { z } from "zod";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => (ctx.state.count += by),
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
  },
});

const requests = Number(process.env.RUNTIME_BENCH_REQUESTS ?? 2000);

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function measure(name: string, call: () => Promise<Response>) {
  for (let i = 0; i < 200; i++) await (await call()).arrayBuffer(); // warm-up
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const before = performance.now();
    const response = await call();
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
    times.push(performance.now() - before);
  }
  const elapsed = performance.now() - started;
  times.sort((a, b) => a - b);
  return {
    request: name,
    requests,
    "req/s": Math.round((requests / elapsed) * 1000),
    "p50 ms": percentile(times, 50).toFixed(3),
    "p99 ms": percentile(times, 99).toFixed(3),
  };
}

/** The busy case: `requests` calls with `concurrency` of them in flight at once. */
async function measureBusy(name: string, concurrency: number, call: () => Promise<Response>) {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < requests) {
      next++;
      const before = performance.now();
      const response = await call();
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
      times.push(performance.now() - before);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = performance.now() - started;
  times.sort((a, b) => a - b);
  return {
    request: `${name}, ${concurrency} in flight`,
    requests,
    "req/s": Math.round((requests / elapsed) * 1000),
    "p50 ms": percentile(times, 50).toFixed(3),
    "p99 ms": percentile(times, 99).toFixed(3),
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-runtime-bench-"));
const runtime = createRuntime(
  parseRuntimeConfig({
    storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
    server: { port: 0 },
  }),
  { logger: noopLogger, actors: { definitions: [Counter] } },
);
const durable = createRuntime(
  parseRuntimeConfig({
    storage: { url: `sqlite:${path.join(dir, "durable.db")}`, synchronous: "full" },
    server: { port: 0 },
  }),
  { logger: noopLogger },
);
const json = { "content-type": "application/json" };
try {
  const { url } = await runtime.start();
  const { url: durableUrl } = await durable.start();
  const event = JSON.stringify({ name: "bench/event", data: { n: 1 } });
  const rows = [
    await measure("GET /health", () => fetch(`${url}/health`)),
    await measure("POST /e/:key (one event, SQLite)", () =>
      fetch(`${url}/e/bench`, { method: "POST", body: event }),
    ),
    await measure("POST /e/:key (one event, SQLite, synchronous FULL)", () =>
      fetch(`${durableUrl}/e/bench`, { method: "POST", body: event }),
    ),
    await measure("GET /metrics", () => fetch(`${url}/metrics`)),
    await measure("POST /actors/Counter/:key/increment (SQLite write)", () =>
      fetch(`${url}/actors/Counter/bench/increment`, {
        method: "POST",
        headers: json,
        body: '{"args":[1]}',
      }),
    ),
    await measure("POST /actors/Counter/:key/get (read-only)", () =>
      fetch(`${url}/actors/Counter/bench/get`, { method: "POST" }),
    ),
  ];
  printTable(`runtime HTTP overhead (${requests} sequential requests, loopback)`, rows);
  const busy = [
    await measureBusy("POST /e/:key (SQLite, NORMAL)", 16, () =>
      fetch(`${url}/e/bench`, { method: "POST", body: event }),
    ),
    await measureBusy("POST /e/:key (SQLite, FULL)", 16, () =>
      fetch(`${durableUrl}/e/bench`, { method: "POST", body: event }),
    ),
  ];
  printTable(`event sends under load (${requests} requests, loopback)`, busy);
} finally {
  await runtime.stop();
  await durable.stop();
  rmSync(dir, { recursive: true, force: true });
}
