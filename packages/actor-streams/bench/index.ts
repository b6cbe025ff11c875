// Stream publish→deliver latency: to an actor consumer (implicit subscription) and to an
// in-process handle, at a steady rate and one event at a time, on the memory Store + PubSub,
// SQLite + NATS and PostgreSQL + NATS (all on loopback). The SSE client's figure is
// `pnpm --filter @troupe/runtime bench:streams`.
// "Store calls in flight" is the most at once in a row; "connections opened" the PostgreSQL
// connections the pool opened during it (each one opened while events wait delays them).
// "of which cursor" counts the commits that write actor consumers' cursors only.
// The default warm-up (1 s) leaves the actor path still JIT-compiling in the measured rows (cold);
// BENCH_WARMUP_MS=3000 measures the steady state (warm). The header says which; report both.
// Run: pnpm --filter @troupe/actor-streams bench
//   (BENCH_RATE events/s, BENCH_DURATION_MS, BENCH_WARMUP_MS, BENCH_STREAMS, BENCH_SERIAL,
//   BENCH_ENGINES=memory,sqlite,postgres, BENCH_CONSUMERS=actor,handle)
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createActorSystem, defineActor } from "@troupe/actors";
import {
  createMemoryPubSub,
  createMemoryQueue,
  createMemoryStore,
  type PubSub,
  type Store,
} from "@troupe/core";
import { createNatsPubSub } from "@troupe/nats";
import { createPostgresStore, type PostgresStoreOptions } from "@troupe/postgres";
import { createSqliteStore } from "@troupe/sqlite";
import { z } from "zod";
import { createStreams, implicitSubscription, type StreamEvent } from "../src/index.js";
import { durationMs, envList, envNumber, natsUrl, postgresUrl, rate, streamCount } from "./env.js";

/** The steady rate run this long before the rows, unmeasured (the pool opens what they need). */
const warmupMs = envNumber("BENCH_WARMUP_MS", 1_000);
const serialCount = envNumber("BENCH_SERIAL", 500);
const engines = envList("BENCH_ENGINES", "memory,sqlite,postgres");
const consumers = envList("BENCH_CONSUMERS", "actor,handle");
const runId = `sbench_${process.pid}_${Date.now().toString(36)}`;

/** Where deliveries are recorded (the actor's action and the handle's handler both call it). */
let onDelivered: (event: StreamEvent) => void = () => {};

const Sink = defineActor({
  name: "Sink",
  key: "string",
  state: z.object({}),
  initialState: () => ({}),
  saveMode: "explicit",
  actions: {
    receive(_ctx, event: StreamEvent) {
      onDelivered(event);
    },
  },
});
const sinkFeed = implicitSubscription(Sink, { namespace: "bench-actor", action: "receive" });

interface Row {
  engine: string;
  consumer: string;
  mode: string;
  events: number;
  p50: number;
  p99: number;
  max: number;
  cpuUsPerEvent: number;
  commitsPerEvent: number;
  /** Of those, the commits that write actor consumers' cursors only. */
  cursorCommitsPerEvent: number;
  readsPerEvent: number;
  maxInFlight: number;
  /** PostgreSQL connections the pool opened during the row ("—" elsewhere). */
  connectionsOpened: number | undefined;
}

/**
 * Store calls made, counted (a figure the machine's load does not change), and the most in
 * flight at once (on PostgreSQL, the pooled connections the row needs: each one past what the
 * pool holds is opened on the delivery path).
 */
const storeCalls = { commits: 0, cursorCommits: 0, reads: 0, inFlight: 0, maxInFlight: 0 };

/** Where the streams keep cursors (the default layout's `streams/c/`). */
const CURSOR_KEYS = "streams/c/";

/** `store` with its commits and reads (get, getMany, list) counted in `storeCalls`. */
function counting(store: Store): Store {
  const tracked = (call: () => Promise<unknown>) => {
    storeCalls.inFlight += 1;
    storeCalls.maxInFlight = Math.max(storeCalls.maxInFlight, storeCalls.inFlight);
    return call().finally(() => {
      storeCalls.inFlight -= 1;
    });
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "commit") {
        return (...args: unknown[]) => {
          storeCalls.commits += 1;
          const ops = args[0] as readonly { key: string }[];
          if (ops.every((op) => op.key.startsWith(CURSOR_KEYS))) storeCalls.cursorCommits += 1;
          return tracked(() => value.apply(target, args));
        };
      }
      if (property === "get" || property === "getMany" || property === "list") {
        return (...args: unknown[]) => {
          storeCalls.reads += 1;
          return tracked(() => value.apply(target, args));
        };
      }
      return value.bind(target);
    },
  });
}

function quantiles(samples: number[]) {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? Number.NaN };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, ms: number) {
  const deadline = performance.now() + ms;
  while (!check() && performance.now() < deadline) await sleep(5);
  return check();
}

type Publish = (key: string, data: { t: number }) => Promise<unknown>;

/** Publishes `rate` events/s round-robin over the streams for `durationMs`; times each delivery. */
async function steady(
  publish: Publish,
  ms = durationMs,
): Promise<{ samples: number[]; cpuUs: number }> {
  const samples: number[] = [];
  let received = 0;
  onDelivered = (event) => {
    samples.push(performance.now() - (event.data as { t: number }).t);
    received += 1;
  };
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  while (performance.now() - start < ms) {
    const due = Math.floor(((performance.now() - start) * rate) / 1000);
    while (sent < due) {
      pending.push(publish(`s${sent % streamCount}`, { t: performance.now() }));
      sent += 1;
    }
    await sleep(1);
  }
  await Promise.all(pending);
  if (!(await until(() => received >= sent, 20_000))) {
    throw new Error(`only ${received} of ${sent} events were delivered`);
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { samples, cpuUs: (cpu.user + cpu.system) / sent };
}

/** One event at a time: the next is published once the previous one was delivered. */
async function serial(publish: Publish): Promise<{ samples: number[]; cpuUs: number }> {
  const samples: number[] = [];
  let next: () => void = () => {};
  onDelivered = (event) => {
    samples.push(performance.now() - (event.data as { t: number }).t);
    next();
  };
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < serialCount; i++) {
    const delivered = new Promise<void>((resolve) => {
      next = resolve;
    });
    await publish(`s${i % streamCount}`, { t: performance.now() });
    await delivered;
  }
  const cpu = process.cpuUsage(cpuBefore);
  return { samples, cpuUs: (cpu.user + cpu.system) / serialCount };
}

async function runEngine(
  engine: string,
  open: () => {
    store: Store;
    pubsub: PubSub;
    close(): Promise<void>;
    connectionsOpened?: () => number;
  },
) {
  const rows: Row[] = [];
  const { store: opened, pubsub, close, connectionsOpened } = open();
  const store = counting(opened);
  const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Sink] });
  const streams = createStreams({ store, pubsub, system, implicit: [sinkFeed], sweepMs: 0 });
  try {
    const actorPublish: Publish = (key, data) => streams.publish("bench-actor", key, data);
    const handlePublish: Publish = (key, data) => streams.publish("bench-handle", key, data);
    for (let i = 0; i < streamCount; i++) {
      await streams.subscribe("bench-handle", `s${i}`, (event) => onDelivered(event));
    }
    for (const [consumer, publish] of [
      ["actor", actorPublish],
      ["handle", handlePublish],
    ] as const) {
      if (!consumers.includes(consumer)) continue;
      // Warm-up: activations, prepared statements, JIT, and the pooled connections the steady
      // rate keeps busy at once (opened here rather than in the middle of a measured row).
      await serial(publish);
      if (warmupMs > 0) await steady(publish, warmupMs);
      for (const [mode, run] of [
        [`${rate}/s over ${streamCount} streams`, steady],
        ["one at a time", serial],
      ] as const) {
        const before = { ...storeCalls };
        storeCalls.maxInFlight = storeCalls.inFlight;
        const connectionsBefore = connectionsOpened?.() ?? 0;
        const { samples, cpuUs } = await run(publish);
        rows.push({
          commitsPerEvent: (storeCalls.commits - before.commits) / samples.length,
          cursorCommitsPerEvent: (storeCalls.cursorCommits - before.cursorCommits) / samples.length,
          readsPerEvent: (storeCalls.reads - before.reads) / samples.length,
          maxInFlight: storeCalls.maxInFlight,
          connectionsOpened: connectionsOpened && connectionsOpened() - connectionsBefore,
          engine,
          consumer,
          mode,
          events: samples.length,
          ...quantiles(samples),
          cpuUsPerEvent: cpuUs,
        });
      }
    }
  } finally {
    await streams.close();
    await system.close();
    await close();
  }
  return rows;
}

const scratch = mkdtempSync(join(tmpdir(), "troupe-streams-bench-"));
const rows: Row[] = [];
const loadBefore = loadavg()[0] ?? 0;
try {
  if (engines.includes("memory")) {
    rows.push(
      ...(await runEngine("memory", () => {
        const store = createMemoryStore();
        const pubsub = createMemoryPubSub();
        return { store, pubsub, close: async () => void (await pubsub.close()) };
      })),
    );
  }
  if (engines.includes("sqlite")) {
    rows.push(
      ...(await runEngine("SQLite + NATS", () => {
        const store = createSqliteStore({ path: join(scratch, "bench.db") });
        const pubsub = createNatsPubSub({ servers: natsUrl, subjectPrefix: `${runId}_s` });
        return {
          store,
          pubsub,
          close: async () => {
            await pubsub.close();
            await store.close();
          },
        };
      })),
    );
  }
  if (engines.includes("postgres")) {
    const schema = `troupe_${runId}`;
    const { createRequire } = await import("node:module");
    const { Pool } = createRequire(import.meta.resolve("@troupe/postgres"))("pg") as {
      Pool: new (config: {
        connectionString: string;
        connectionTimeoutMillis?: number;
      }) => {
        query(sql: string): Promise<unknown>;
        on(event: "connect", listener: () => void): void;
        end(): Promise<void>;
      };
    };
    rows.push(
      ...(await runEngine("PostgreSQL + NATS", () => {
        // The pool the store would open itself (pg's defaults), with its new connections counted.
        const pool = new Pool({ connectionString: postgresUrl, connectionTimeoutMillis: 10_000 });
        let connections = 0;
        pool.on("connect", () => {
          connections += 1;
        });
        const store = createPostgresStore({
          pool: pool as unknown as NonNullable<PostgresStoreOptions["pool"]>,
          schema,
        });
        const pubsub = createNatsPubSub({ servers: natsUrl, subjectPrefix: `${runId}_p` });
        return {
          store,
          pubsub,
          connectionsOpened: () => connections,
          close: async () => {
            await pubsub.close();
            await store.close();
            await pool.end();
          },
        };
      })),
    );
    const admin = new Pool({ connectionString: postgresUrl });
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const fmt = (value: number) => value.toFixed(2);
console.log(
  `\nstream publish→deliver on loopback (load average ${loadBefore.toFixed(1)} → ${(loadavg()[0] ?? 0).toFixed(1)}, ${durationMs} ms per steady run after ${warmupMs} ms unmeasured at the steady rate${warmupMs >= 3_000 ? " (warm)" : " (cold)"}, ${serialCount} one-at-a-time events)\n`,
);
console.log(
  "| engine | consumer | load | events | p50 ms | p99 ms | max ms | CPU µs/event | commits/event | of which cursor | reads/event | Store calls in flight | connections opened |",
);
console.log("| --- | --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
for (const row of rows) {
  console.log(
    `| ${row.engine} | ${row.consumer} | ${row.mode} | ${row.events} | ${fmt(row.p50)} | ${fmt(row.p99)} | ${fmt(row.max)} | ${row.cpuUsPerEvent.toFixed(0)} | ${row.commitsPerEvent.toFixed(2)} | ${row.cursorCommitsPerEvent.toFixed(2)} | ${row.readsPerEvent.toFixed(2)} | ${row.maxInFlight} | ${row.connectionsOpened ?? "—"} |`,
  );
}
process.exit(0);
