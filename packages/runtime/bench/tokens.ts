// What scoped-token auth costs an event send, side by side in one run: the same runtime setup
// (SQLite, synchronous NORMAL) without auth, with the root token, and with a scoped
// `events:send` token (checked against its hashed record, cached for 1 s), for POST /api/events
// (the guarded route) and POST /e/:key (the SDK route, which event keys guard, not tokens).
// Rounds alternate the order; the table holds the median req/s of each row and its ratio to
// "no auth".
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import { printTable } from "@troupe/testkit";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";

const requests = Number(process.env.RUNTIME_BENCH_REQUESTS ?? 2000);
const rounds = Number(process.env.RUNTIME_BENCH_ROUNDS ?? 3);
const ROOT = "tok-9f1c2a7e4b8d3f6a0c5e1b7d2a9f4c8e";

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}
const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function measure(call: () => Promise<Response>) {
  for (let i = 0; i < 200; i++) await (await call()).arrayBuffer();
  const times: number[] = [];
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const before = performance.now();
    const response = await call();
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    times.push(performance.now() - before);
  }
  const elapsed = performance.now() - started;
  times.sort((a, b) => a - b);
  return {
    rps: (requests / elapsed) * 1000,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
  };
}

const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-token-bench-"));
const open = (name: string, auth: boolean) =>
  createRuntime(
    parseRuntimeConfig({
      storage: { url: `sqlite:${path.join(dir, `${name}.db`)}` },
      server: { port: 0 },
      ...(auth ? { auth: { token: ROOT } } : {}),
    }),
    { logger: noopLogger, dashboardDir: false },
  );
const plain = open("plain", false);
const guarded = open("guarded", true);
try {
  const plainUrl = (await plain.start()).url;
  const guardedUrl = (await guarded.start()).url;
  const minted = await fetch(`${guardedUrl}/api/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${ROOT}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "bench", scopes: ["events:send"] }),
  });
  const scoped = ((await minted.json()) as { token: string }).token;
  const event = JSON.stringify({ name: "bench/event", data: { n: 1 } });
  const send = (url: string, route: string, token?: string) => () =>
    fetch(`${url}${route}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: event,
    });
  const cases: [string, () => Promise<Response>][] = [
    ["POST /api/events, no auth", send(plainUrl, "/api/events")],
    ["POST /api/events, root token", send(guardedUrl, "/api/events", ROOT)],
    ["POST /api/events, scoped token (events:send)", send(guardedUrl, "/api/events", scoped)],
    ["POST /e/:key, no auth", send(plainUrl, "/e/bench")],
    ["POST /e/:key, server with scoped tokens", send(guardedUrl, "/e/bench")],
  ];
  const results = new Map<string, { rps: number; p50: number; p99: number }[]>();
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const [name, call] of order)
      results.set(name, [...(results.get(name) ?? []), await measure(call)]);
  }
  const rowOf = (name: string) => {
    const runs = results.get(name) ?? [];
    return {
      rps: median(runs.map((run) => run.rps)),
      p50: median(runs.map((run) => run.p50)),
      p99: median(runs.map((run) => run.p99)),
    };
  };
  printTable(
    `scoped-token auth on event sends (${requests} sequential requests × ${rounds} rounds, medians)`,
    cases.map(([name]) => {
      const row = rowOf(name);
      const base = rowOf(
        name.startsWith("POST /e/") ? "POST /e/:key, no auth" : "POST /api/events, no auth",
      );
      return {
        request: name,
        "req/s": Math.round(row.rps),
        "p50 ms": row.p50.toFixed(3),
        "p99 ms": row.p99.toFixed(3),
        "vs no auth": `${(row.rps / base.rps).toFixed(3)}x`,
      };
    }),
  );
} finally {
  await plain.stop();
  await guarded.stop();
  rmSync(dir, { recursive: true, force: true });
}
