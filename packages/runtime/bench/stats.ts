// Snapshot reads over HTTP served from the stats service's L1 cache (goal ≥ 20,000/s), beside
// GET /health as the floor of what any request costs. The load comes from wrk (C, one thread)
// when it is installed, else from autocannon on a worker thread; either way client and server
// share this machine's cores. The same read with a query string (`?via=hono`) goes through the
// Hono chain instead of the fast path, so both are measured with the same generator in one run.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { noopLogger } from "@troupe/core";
import { printTable } from "@troupe/testkit";
import autocannon from "autocannon";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";

const actors = Number(process.env.STATS_BENCH_ACTORS ?? 1000);
const seconds = Number(process.env.STATS_BENCH_SECONDS ?? 10);
const connections = Number(process.env.STATS_BENCH_CONNECTIONS ?? 32);
const wanted = process.env.STATS_BENCH_LOADGEN; // "wrk" or "autocannon"; default wrk when found
// "root" or "scoped": the runtime runs with auth and every request carries that token (a scoped
// one holds `stats:read` only, so /health and the Hono read take the root token); default none.
const authMode = process.env.STATS_BENCH_AUTH ?? "none";
if (!["none", "root", "scoped"].includes(authMode)) {
  throw new Error(
    `STATS_BENCH_AUTH: expected none, root or scoped, got ${JSON.stringify(authMode)}`,
  );
}
const ROOT_TOKEN = "tok-bench-5f0c2a9e7d1b4c8a6e3f0b2d9c7a1e4f";

function hasWrk(): boolean {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
    return true;
  } catch (error) {
    // wrk --version exits 1 after printing its version; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== "ENOENT";
  }
}
const generator = wanted === "autocannon" || (wanted !== "wrk" && !hasWrk()) ? "autocannon" : "wrk";

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
    ...(authMode === "none" ? {} : { auth: { token: ROOT_TOKEN } }),
    stats: { registry, systems: ["equipment", "buffs"], watch: false, cache: { ttlMs: 600_000 } },
  }),
  { logger: noopLogger, inngest: false, dashboardDir: false },
);

interface LoadResult {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly total: number;
  readonly timeouts: number;
}

/** wrk's duration in ms from `1.23ms`, `456.00us` or `1.02s`. */
function wrkMs(text: string): number {
  const found = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (found === null) throw new Error(`wrk: cannot read the latency ${JSON.stringify(text)}`);
  const value = Number(found[1]);
  return found[2] === "us" ? value / 1000 : found[2] === "s" ? value * 1000 : value;
}

/** Each request's headers: the row's token, if any. */
let token: string | undefined;

async function loadWithWrk(
  url: string,
  paths: readonly string[],
  duration: number,
): Promise<LoadResult> {
  const script = path.join(dir, "paths.lua");
  writeFileSync(
    script,
    `local paths = {${paths.map((one) => JSON.stringify(one)).join(",")}}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i]${token === undefined ? "" : `, {["Authorization"] = ${JSON.stringify(`Bearer ${token}`)}}`})
end
`,
  );
  // Asynchronously: the server under load runs on this process's event loop.
  const { stdout: output } = await promisify(execFile)(
    "wrk",
    [
      "-t1",
      `-c${connections}`,
      `-d${duration}s`,
      "--timeout",
      "10s",
      "--latency",
      "-s",
      script,
      url,
    ],
    { encoding: "utf8" },
  );
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  // Timeouts (none within 10 s) are counted in the table; a refused or broken socket fails.
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    output,
  );
  const broken = socket?.slice(1, 4).some((count) => count !== "0") === true;
  if (non2xx !== null || broken) throw new Error(`wrk: ${non2xx?.[0] ?? ""} ${socket?.[0] ?? ""}`);
  const read = (pattern: RegExp) => {
    const found = pattern.exec(output);
    if (found === null) throw new Error(`wrk: no ${pattern} in\n${output}`);
    return found[1] as string;
  };
  return {
    perSecond: Number(read(/Requests\/sec:\s+([\d.]+)/)),
    p50: wrkMs(read(/^\s+50%\s+(\S+)\s*$/m)),
    p99: wrkMs(read(/^\s+99%\s+(\S+)\s*$/m)),
    total: Number(read(/(\d+) requests in/)),
    timeouts: socket === null ? 0 : Number(socket[4]),
  };
}

async function load(
  url: string,
  paths: readonly string[],
  duration = seconds,
): Promise<LoadResult & { readonly perCpuSecond: number }> {
  const cpu = process.cpuUsage();
  const result = await generate(url, paths, duration);
  const used = process.cpuUsage(cpu);
  // Requests per CPU-second of this process (the server; autocannon's worker thread included).
  return { ...result, perCpuSecond: result.total / ((used.user + used.system) / 1e6) };
}

async function generate(
  url: string,
  paths: readonly string[],
  duration: number,
): Promise<LoadResult> {
  if (generator === "wrk") return loadWithWrk(url, paths, duration);
  const result = await autocannon({
    url,
    connections,
    duration,
    workers: 1,
    requests: paths.map((requestPath) => ({
      method: "GET",
      path: requestPath,
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
    })),
  });
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${result.non2xx} non-2xx answers, ${result.errors} errors`);
  }
  return {
    perSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    timeouts: result.timeouts,
  };
}

/**
 * The same requests through `runtime.app.request` (no socket, no client): what the route itself
 * costs, per CPU-second of this process, which load from other processes disturbs less.
 */
async function inProcess(paths: readonly string[], count: number) {
  const init = { headers: rootHeaders };
  for (let i = 0; i < 2_000; i++)
    await (await runtime.app.request(paths[i % paths.length] as string, init)).text();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const response = await runtime.app.request(paths[i % paths.length] as string, init);
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

const rootHeaders: Record<string, string> =
  authMode === "none" ? {} : { authorization: `Bearer ${ROOT_TOKEN}` };

async function counter(url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: rootHeaders })).text();
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
      headers: { ...rootHeaders, "content-type": "application/json" },
      body: JSON.stringify({ writes }),
    });
    if (!response.ok) throw new Error(`PUT batch: HTTP ${response.status}`);
  }
  for (const id of ids) {
    await (await fetch(`${url}/stats/actors/${id}`, { headers: rootHeaders })).arrayBuffer(); // into L1
  }
  // The fast row's token: the root token, or a scoped token holding only `stats:read`.
  let readToken = authMode === "none" ? undefined : ROOT_TOKEN;
  if (authMode === "scoped") {
    const minted = await fetch(`${url}/api/tokens`, {
      method: "POST",
      headers: { ...rootHeaders, "content-type": "application/json" },
      body: JSON.stringify({ name: "bench-reader", scopes: ["stats:read"] }),
    });
    if (minted.status !== 201) throw new Error(`POST /api/tokens: HTTP ${minted.status}`);
    readToken = ((await minted.json()) as { token: string }).token;
  }

  const rows = [];
  const snapshotPaths = ids.map((id) => `/stats/actors/${id}`);
  token = authMode === "none" ? undefined : ROOT_TOKEN;
  for (const paths of [["/health"], snapshotPaths.map((one) => `${one}?via=hono`), snapshotPaths]) {
    if (paths === snapshotPaths) token = readToken;
    await load(url, paths, 2); // warm-up: JIT and connection set-up out of the measurement
  }
  token = authMode === "none" ? undefined : ROOT_TOKEN;
  const health = await load(url, ["/health"]);
  const throughHono = await load(
    url,
    ids.map((id) => `/stats/actors/${id}?via=hono`),
  );
  const hitsBefore = await counter(url, 'actor_core_cache_hits_total{tier="l1"}');
  const fastBefore = await counter(url, "troupe_http_fast_reads_total");
  token = readToken;
  const snapshots = await load(url, snapshotPaths);
  const hits = (await counter(url, 'actor_core_cache_hits_total{tier="l1"}')) - hitsBefore;
  const fast = (await counter(url, "troupe_http_fast_reads_total")) - fastBefore;
  // The floor: a bare node:http server in this process answering every request with one
  // snapshot's bytes, no checks, no lookup, no metrics. What the fast path costs above it is ours.
  const sample = Buffer.from(
    await (await fetch(`${url}/stats/actors/${ids[0]}`, { headers: rootHeaders })).arrayBuffer(),
  );
  const bare = createServer((_request, response) => {
    response.writeHead(200, {
      "content-type": "application/json",
      "content-length": sample.length,
    });
    response.end(sample);
  });
  await new Promise<void>((resolve) => bare.listen(0, "127.0.0.1", resolve));
  const bareUrl = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
  await load(bareUrl, snapshotPaths, 2);
  const floor = await load(bareUrl, snapshotPaths);
  await new Promise((resolve) => bare.close(resolve));
  for (const [name, result] of [
    ["GET /health (Hono)", health],
    [`GET /stats/actors/:id?via=hono (${actors} actors, L1, Hono)`, throughHono],
    [
      `GET /stats/actors/:id (${actors} actors, L1, fast path${authMode === "none" ? "" : `, ${authMode} token`})`,
      snapshots,
    ],
    ["bare node:http, one snapshot's bytes (floor)", floor],
  ] as const) {
    rows.push({
      request: name,
      connections,
      seconds,
      "req/s": Math.round(result.perSecond),
      "req/server CPU-s": Math.round(result.perCpuSecond),
      "server CPU µs/req": Number((1e6 / result.perCpuSecond).toFixed(1)),
      "p50 ms": result.p50,
      "p99 ms": result.p99,
      timeouts: result.timeouts,
      "vs /health": `${(result.perSecond / health.perSecond).toFixed(2)}x`,
    });
  }
  printTable("the same routes in process (runtime.app.request, no socket)", [
    { request: "GET /health", requests: 50_000, ...(await inProcess(["/health"], 50_000)) },
    {
      request: `GET /stats/actors/:id (${actors} actors, L1)`,
      requests: 50_000,
      ...(await inProcess(snapshotPaths, 50_000)),
    },
  ]);
  printTable(
    `stats snapshot reads over HTTP (${generator === "wrk" ? "wrk, 1 thread" : "autocannon on a worker thread"}, loopback)`,
    rows,
  );
  console.log(`load generator: ${generator}; auth: ${authMode}`);
  console.log(
    `fast-path run: ${hits} L1 hits and ${fast} fast-path answers for ${snapshots.total} requests`,
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
