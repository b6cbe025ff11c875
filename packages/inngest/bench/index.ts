/**
 * Latency through the Inngest HTTP protocol: an official `inngest` v4 app served over loopback
 * HTTP, a Troupe (flows + the Inngest API) on SQLite or PostgreSQL, in one process.
 *
 * - event → first step: from `POST /e/:key` to the first step's code starting in the app;
 * - per step: from one empty step's code starting to the next one's (the HTTP round trip, the
 *   engine's commit and the SDK's replay in between), over sequential runs of a 10-step function.
 *
 * The same function also runs on a Connect worker (`inngest/connect`: the app's outbound
 * WebSocket instead of call requests), classic protocol. Then the realtime rows
 * (`./realtime.ts`).
 *
 * `pnpm bench` (env: INNGEST_BENCH_RUNS, default 200; TROUPE_TEST_POSTGRES_URL;
 * INNGEST_BENCH_ONLY=http|realtime).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve as serveHono } from "@hono/node-server";
import { type Queue, type Store, systemClock } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { printTable } from "@troupe/testkit";
import { Inngest } from "inngest";
import { connect } from "inngest/connect";
import { serve } from "inngest/node";
import { WebSocket } from "ws";
import { createInngestApi } from "../src/index.js";
import { realtimeRows } from "./realtime.js";

// Node 20 has no global WebSocket without a flag; the SDK's Connect client needs one.
if (typeof globalThis.WebSocket === "undefined") Object.assign(globalThis, { WebSocket });

const RUNS = Number(process.env.INNGEST_BENCH_RUNS ?? 200);
const WARMUP = 20;
const STEPS = 10;
const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const silent = { info() {}, warn() {}, error() {}, debug() {} };

interface Ports {
  readonly store: Store;
  readonly queue: Queue;
  close(): Promise<void>;
}

const backends: { name: string; open(tag: string): Ports }[] = [
  {
    name: "sqlite",
    open(tag) {
      const dir = mkdtempSync(join(tmpdir(), "troupe-inngest-bench-"));
      const path = join(dir, "bench.db");
      const store = createSqliteStore({ path });
      const queue = createSqliteQueue({ path, clock: systemClock, queueName: tag });
      return {
        store,
        queue,
        async close() {
          await queue.close();
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "postgres",
    open(tag) {
      const schema = "troupe_inngest_bench";
      const store = createPostgresStore({ connectionString: postgresUrl, schema });
      const queue = createPostgresQueue({
        connectionString: postgresUrl,
        schema,
        queueName: tag,
        clock: systemClock,
      });
      return {
        store,
        queue,
        async close() {
          for (const prefix of [`flows/${tag}/`, `inngest/${tag}/`]) {
            for (;;) {
              const entries = await store.list({ prefix, limit: 1000 });
              if (entries.length === 0) break;
              await store.commit(
                entries.map((entry) => ({ type: "delete", key: entry.key }) as const),
              );
            }
          }
          await queue.close();
          await store.close();
        },
      };
    },
  },
];

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

const ms = (value: number) => value.toFixed(2);

async function measure(
  backend: (typeof backends)[number],
  checkpointing: boolean,
  transport: "http" | "connect" = "http",
) {
  const tag = `b${Date.now().toString(36)}${checkpointing ? "c" : "k"}${transport[0]}`;
  const ports = backend.open(tag);
  const flows = createFlows({
    store: ports.store,
    queue: ports.queue,
    prefix: `flows/${tag}/`,
    pollIntervalMs: 50,
    keepProcessAlive: false,
  });
  const api = createInngestApi({
    flows,
    mode: "dev",
    store: ports.store,
    prefix: `inngest/${tag}/`,
    checkpointing,
  });
  await api.ready();
  await flows.start();
  const troupeServer = await new Promise<ReturnType<typeof serveHono>>((resolve) => {
    const started = serveHono({ fetch: api.app.fetch, port: 0, hostname: "127.0.0.1" }, () =>
      resolve(started),
    );
  });
  troupeServer.on("upgrade", (request, socket, head) => {
    if (!api.handleUpgrade(request, socket, head)) socket.destroy();
  });
  const troupeUrl = `http://127.0.0.1:${(troupeServer.address() as AddressInfo).port}`;

  const marks = new Map<number, number[]>();
  const done = new Map<number, () => void>();
  const client = new Inngest({ id: "bench", isDev: true, baseUrl: troupeUrl, logger: silent });
  const chain = client.createFunction(
    { id: "chain", triggers: [{ event: "bench/go" }] },
    async ({ event, step }) => {
      const run = Number(event.data.run);
      for (let i = 0; i < STEPS; i++) {
        await step.run(`s${i}`, () => {
          const list = marks.get(run) ?? [];
          list.push(performance.now());
          marks.set(run, list);
          return i;
        });
      }
      done.get(run)?.();
      return run;
    },
  );
  const appServer = createServer(serve({ client, functions: [chain] }));
  let worker: { close(): Promise<void> } | undefined;
  if (transport === "http") {
    await new Promise<void>((resolve) => appServer.listen(0, "127.0.0.1", () => resolve()));
    const appUrl = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}/api/inngest`;
    const sync = await api.syncApp(appUrl);
    if (!sync.ok) throw new Error(`sync failed: ${sync.message}`);
  } else {
    worker = await connect({
      apps: [{ client, functions: [chain] }],
      isolateExecution: false,
      handleShutdownSignals: [],
    } as unknown as Parameters<typeof connect>[0]);
    while (!api.apps().some((app) => app.appName === "bench")) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const firstStep: number[] = [];
  const perStep: number[] = [];
  for (let run = 0; run < WARMUP + RUNS; run++) {
    const finished = new Promise<void>((resolve) => done.set(run, resolve));
    const sentAt = performance.now();
    const response = await fetch(`${troupeUrl}/e/bench`, {
      method: "POST",
      body: JSON.stringify([{ name: "bench/go", data: { run } }]),
    });
    if (!response.ok) throw new Error(`send failed: HTTP ${response.status}`);
    await finished;
    const list = marks.get(run) ?? [];
    marks.delete(run);
    done.delete(run);
    if (run < WARMUP) continue;
    firstStep.push((list[0] ?? Number.NaN) - sentAt);
    for (let i = 1; i < list.length; i++) perStep.push((list[i] ?? 0) - (list[i - 1] ?? 0));
  }

  await worker?.close();
  if (appServer.listening) {
    appServer.closeAllConnections();
    await new Promise<void>((resolve) => appServer.close(() => resolve()));
  }
  const troupeClosed = new Promise<void>((resolve) => troupeServer.close(() => resolve()));
  await api.close();
  await troupeClosed;
  await flows.close();
  await ports.close();
  firstStep.sort((a, b) => a - b);
  perStep.sort((a, b) => a - b);
  const row = (what: string, values: number[]) => ({
    backend: backend.name,
    protocol: `${transport === "connect" ? "Connect, " : ""}${checkpointing ? "checkpointing" : "classic"}`,
    measure: what,
    samples: values.length,
    "p50 ms": ms(percentile(values, 50)),
    "p95 ms": ms(percentile(values, 95)),
    "p99 ms": ms(percentile(values, 99)),
  });
  return [row("event → first step", firstStep), row("per step", perStep)];
}

// INNGEST_BENCH_ONLY=http|realtime runs one part.
const only = process.env.INNGEST_BENCH_ONLY;
if (only !== "realtime") {
  const rows: Record<string, string | number>[] = [];
  for (const backend of backends) {
    for (const checkpointing of [false, true]) {
      rows.push(...(await measure(backend, checkpointing)));
    }
    rows.push(...(await measure(backend, false, "connect")));
  }
  printTable(
    `Inngest SDK v4 app on Troupe over loopback HTTP (${RUNS} sequential runs of ${STEPS} empty steps)`,
    rows,
  );
}
if (only !== "http") {
  printTable(
    "Realtime: HTTP publish → the SDK's WebSocket subscriber, loopback",
    await realtimeRows(),
  );
}
