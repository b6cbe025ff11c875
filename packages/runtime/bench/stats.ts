// Snapshot reads over HTTP served from the stats service's L1 cache (goal ≥ 20,000/s), beside
// GET /health as the floor of what any request costs. The load comes from autocannon on a worker
// thread, so client and server do not share an event loop; both still share this machine's cores.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import { printTable } from "@troupe/testkit";
import autocannon from "autocannon";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";

const actors = Number(process.env.STATS_BENCH_ACTORS ?? 1000);
const seconds = Number(process.env.STATS_BENCH_SECONDS ?? 10);
const connections = Number(process.env.STATS_BENCH_CONNECTIONS ?? 32);

const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-stats-bench-"));
const registry = path.join(dir, "combiner.yaml");
writeFileSync(
  registry,
  `dimensions:
  strength: { use_pipeline: true, clamp_default: { min: 0, max: 100000 } }
  armor: { use_pipeline: true, clamp_default: { min: 0, max: 100000 } }
  speed: { use_pipeline: true, clamp_default: { min: 0, max: 100 } }
`,
);
const runtime = createRuntime(
  parseRuntimeConfig({
    storage: { url: `sqlite:${path.join(dir, "troupe.db")}` },
    server: { port: 0 },
    stats: { registry, systems: ["equipment", "buffs"], watch: false, cache: { ttlMs: 600_000 } },
  }),
  { logger: noopLogger, inngest: false, dashboardDir: false },
);

async function load(url: string, paths: readonly string[]) {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    workers: 1,
    requests: paths.map((requestPath) => ({ method: "GET", path: requestPath })),
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return result;
}

/**
 * The same requests through `runtime.app.request` (no socket, no client): what the route itself
 * costs, per CPU-second of this process, which load from other processes disturbs less.
 */
async function inProcess(paths: readonly string[], count: number) {
  for (let i = 0; i < 2_000; i++)
    await (await runtime.app.request(paths[i % paths.length] as string)).text();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const response = await runtime.app.request(paths[i % paths.length] as string);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await response.text();
  }
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  return {
    "req/s (wall)": Math.round(count / seconds),
    "req/CPU-s": Math.round(count / ((used.user + used.system) / 1e6)),
  };
}

async function counter(url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = text.split("\n").find((row) => row.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length).trim());
}

try {
  const { url } = await runtime.start();
  const ids = Array.from({ length: actors }, (_, index) => `player-${index}`);
  for (let start = 0; start < ids.length; start += 500) {
    const writes = ids.slice(start, start + 500).flatMap((actorId, index) => [
      {
        actorId,
        system: "equipment",
        output: {
          primary: [
            { dimension: "strength", bucket: "FLAT", value: 10 + index },
            { dimension: "armor", bucket: "FLAT", value: 5 },
          ],
        },
      },
      {
        actorId,
        system: "buffs",
        output: { primary: [{ dimension: "speed", bucket: "MULT", value: 0.1 }] },
      },
    ]);
    const response = await fetch(`${url}/stats/actors`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ writes }),
    });
    if (!response.ok) throw new Error(`PUT batch: HTTP ${response.status}`);
  }
  for (const id of ids) await (await fetch(`${url}/stats/actors/${id}`)).arrayBuffer(); // into L1

  const rows = [];
  const health = await load(url, ["/health"]);
  const hitsBefore = await counter(url, 'actor_core_cache_hits_total{tier="l1"}');
  const snapshots = await load(
    url,
    ids.map((id) => `/stats/actors/${id}`),
  );
  const hits = (await counter(url, 'actor_core_cache_hits_total{tier="l1"}')) - hitsBefore;
  for (const [name, result] of [
    ["GET /health", health],
    [`GET /stats/actors/:id (${actors} actors, L1)`, snapshots],
  ] as const) {
    rows.push({
      request: name,
      connections,
      seconds,
      "req/s (mean)": Math.round(result.requests.average),
      "p50 ms": result.latency.p50,
      "p99 ms": result.latency.p99,
    });
  }
  const snapshotPaths = ids.map((id) => `/stats/actors/${id}`);
  printTable("the same routes in process (runtime.app.request, no socket)", [
    { request: "GET /health", requests: 50_000, ...(await inProcess(["/health"], 50_000)) },
    {
      request: `GET /stats/actors/:id (${actors} actors, L1)`,
      requests: 50_000,
      ...(await inProcess(snapshotPaths, 50_000)),
    },
  ]);
  printTable("stats snapshot reads over HTTP (autocannon on a worker thread, loopback)", rows);
  console.log(
    `L1 hits during the snapshot run: ${hits} of ${snapshots.requests.total} requests (${((hits / snapshots.requests.total) * 100).toFixed(1)} %)`,
  );
  console.log(
    `load average: ${os
      .loadavg()
      .map((value) => value.toFixed(2))
      .join(" ")}`,
  );
} finally {
  await runtime.stop();
  rmSync(dir, { recursive: true, force: true });
}
