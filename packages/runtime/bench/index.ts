// The runtime's own overhead over HTTP on loopback: what a request costs before any engine work
// (/health), an event send through the Inngest event API onto SQLite (/e/:key), and a /metrics
// render. Sequential requests from one client, so the numbers are latency, not peak throughput.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import { printTable } from "@troupe/testkit";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";

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

const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-runtime-bench-"));
const runtime = createRuntime(
  parseRuntimeConfig({
    storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
    server: { port: 0 },
  }),
  { logger: noopLogger },
);
try {
  const { url } = await runtime.start();
  const event = JSON.stringify({ name: "bench/event", data: { n: 1 } });
  const rows = [
    await measure("GET /health", () => fetch(`${url}/health`)),
    await measure("POST /e/:key (one event, SQLite)", () =>
      fetch(`${url}/e/bench`, { method: "POST", body: event }),
    ),
    await measure("GET /metrics", () => fetch(`${url}/metrics`)),
  ];
  printTable(`runtime HTTP overhead (${requests} sequential requests, loopback)`, rows);
} finally {
  await runtime.stop();
  rmSync(dir, { recursive: true, force: true });
}
