// Per-event timeline of stream publish→deliver on PostgreSQL + NATS at a steady rate, to tell
// what the slowest 1 % waited for: the commit in flight before theirs (group commit), their own
// commit, the work after it, or the process not running at all (CPU queueing: gaps of the event
// loop, split into time this process spent on the CPU and time it was not scheduled).
// Run: pnpm --filter @troupe/actor-streams bench:trace
//   (BENCH_RATE, BENCH_DURATION_MS, BENCH_STREAMS, BENCH_CONSUMERS=actor,handle, BENCH_RUNS)
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { PerformanceObserver, performance } from "node:perf_hooks";
import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryQueue, jsonCodec, type Store, type StoreOp } from "@troupe/core";
import { createNatsPubSub } from "@troupe/nats";
import { createPostgresStore, type PostgresStoreOptions } from "@troupe/postgres";
import { z } from "zod";
import { createStreams, implicitSubscription, type StreamEvent } from "../src/index.js";
import { durationMs, envList, envNumber, natsUrl, postgresUrl, rate, streamCount } from "./env.js";

const runs = envNumber("BENCH_RUNS", 1);
const consumers = envList("BENCH_CONSUMERS", "actor,handle");
const runId = `strace_${process.pid}_${Date.now().toString(36)}`;

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

interface Commit {
  readonly kind: "events" | "cursors" | "other";
  readonly start: number;
  end: number;
  readonly ops: number;
  /** Commits of any kind in flight when this one started (itself excluded). */
  readonly beside: number;
}

/** Each event's commit, by its publish time `t` (unique per event). */
const commitOf = new Map<number, Commit>();
const commits: Commit[] = [];
let inFlight = 0;

function kindOf(ops: readonly StoreOp[]): Commit["kind"] {
  const key = ops[0]?.key ?? "";
  if (key.startsWith("streams/h/") || key.startsWith("streams/e/")) return "events";
  if (key.startsWith("streams/c/")) return "cursors";
  return "other";
}

/** `store` with each commit timed and each event mapped to its commit. */
function tracing(store: Store): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property !== "commit") return value.bind(target);
      return (ops: StoreOp[]) => {
        const commit: Commit = {
          kind: kindOf(ops),
          start: performance.now(),
          end: Number.NaN,
          ops: ops.length,
          beside: inFlight,
        };
        inFlight += 1;
        commits.push(commit);
        if (commit.kind === "events") {
          for (const op of ops) {
            if (op.type !== "set") continue;
            const record = jsonCodec.decode(op.value) as { data?: { t?: unknown } } | null;
            const t = record?.data?.t;
            if (typeof t === "number") commitOf.set(t, commit);
          }
        }
        return (value.call(target, ops) as Promise<unknown>).finally(() => {
          inFlight -= 1;
          commit.end = performance.now();
        });
      };
    },
  });
}

/** Event-loop gaps (a 1 ms timer late by more than 2 ms) with the CPU this process used in them. */
const gaps: { start: number; end: number; cpuMs: number }[] = [];
const gcs: { start: number; end: number }[] = [];
function watchLoop(): () => void {
  let last = performance.now();
  let cpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    if (now - last > 3)
      gaps.push({ start: last, end: now, cpuMs: (used.user + used.system) / 1e3 });
    last = now;
    cpu = process.cpuUsage();
  }, 1);
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcs.push({ start: entry.startTime, end: entry.startTime + entry.duration });
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  return () => {
    clearInterval(timer);
    observer.disconnect();
  };
}

/** How much of [from, to] the listed intervals cover. */
function overlap(intervals: readonly { start: number; end: number }[], from: number, to: number) {
  let total = 0;
  for (const each of intervals) {
    const start = Math.max(each.start, from);
    const end = Math.min(each.end, to);
    if (end > start) total += end - start;
  }
  return total;
}

interface Sample {
  readonly t: number;
  readonly delivered: number;
}

async function steady(
  publish: (key: string, t: number) => Promise<unknown>,
  ms = durationMs,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  onDelivered = (event) => {
    samples.push({ t: (event.data as { t: number }).t, delivered: performance.now() });
  };
  const start = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  while (performance.now() - start < ms) {
    const due = Math.floor(((performance.now() - start) * rate) / 1000);
    while (sent < due) {
      pending.push(publish(`s${sent % streamCount}`, performance.now()));
      sent += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  const deadline = performance.now() + 20_000;
  while (samples.length < sent && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return samples;
}

const q = (values: number[], at: number) => {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(at * sorted.length) - 1)] ?? Number.NaN;
};
const mean = (values: number[]) => values.reduce((sum, each) => sum + each, 0) / values.length;
const fmt = (value: number) => value.toFixed(2);

function report(consumer: string, samples: Sample[], cpuUsPerEvent: number) {
  const timed = samples.map(({ t, delivered }) => {
    const commit = commitOf.get(t);
    const cs = commit?.start ?? Number.NaN;
    const ce = commit?.end ?? Number.NaN;
    // The share of each gap this process spent off the CPU, over the part the event overlaps.
    let notScheduled = 0;
    for (const gap of gaps) {
      const covered = overlap([gap], t, delivered);
      if (covered > 0) notScheduled += covered * Math.max(0, 1 - gap.cpuMs / (gap.end - gap.start));
    }
    return {
      t,
      total: delivered - t,
      queued: cs - t,
      commit: ce - cs,
      after: delivered - ce,
      batch: commit?.ops ?? 0,
      beside: commit?.beside ?? 0,
      loopGap: overlap(gaps, t, delivered),
      notScheduled,
      gc: overlap(gcs, t, delivered),
    };
  });
  const totals = timed.map((each) => each.total);
  const p99 = q(totals, 0.99);
  const slow = timed.filter((each) => each.total >= p99);
  const rest = timed.filter((each) => each.total < q(totals, 0.5));
  const eventCommits = commits.filter((each) => each.kind === "events");
  const cursorCommits = commits.filter((each) => each.kind === "cursors");
  // A slow commit alone (its own backend or round trip) or with every commit beside it (a stall
  // of all committers, such as a WAL flush): only the first is what a second commit in flight helps.
  const typical = q(
    commits.map((each) => each.end - each.start),
    0.5,
  );
  const slowCommits = new Set(
    slow.map((each) => commitOf.get(each.t)).filter((each) => each !== undefined),
  );
  let alone = 0;
  let together = 0;
  for (const commit of slowCommits) {
    if (commit.end - commit.start <= 2 * typical) continue;
    const beside = commits.filter(
      (other) => other !== commit && other.start < commit.end && other.end > commit.start,
    );
    if (beside.some((other) => other.end - other.start > 2 * typical)) together += 1;
    else alone += 1;
  }
  console.log(
    `\n${consumer}: ${samples.length} events, p50 ${fmt(q(totals, 0.5))} p99 ${fmt(p99)} max ${fmt(q(totals, 1))} ms, CPU ${cpuUsPerEvent.toFixed(0)} µs/event, load ${loadavg()[0]?.toFixed(1)}`,
  );
  console.log(
    `commits: ${eventCommits.length} of events (p50 ${fmt(
      q(
        eventCommits.map((c) => c.end - c.start),
        0.5,
      ),
    )}, p99 ${fmt(
      q(
        eventCommits.map((c) => c.end - c.start),
        0.99,
      ),
    )}, max ${fmt(
      q(
        eventCommits.map((c) => c.end - c.start),
        1,
      ),
    )} ms), ${cursorCommits.length} of cursors (p50 ${fmt(
      q(
        cursorCommits.map((c) => c.end - c.start),
        0.5,
      ),
    )}, max ${fmt(
      q(
        cursorCommits.map((c) => c.end - c.start),
        1,
      ),
    )} ms); loop gaps > 3 ms: ${gaps.length} (${fmt(gaps.reduce((s, g) => s + g.end - g.start, 0))} ms, CPU in them ${fmt(gaps.reduce((s, g) => s + g.cpuMs, 0))} ms); GC ${gcs.length} (${fmt(gcs.reduce((s, g) => s + g.end - g.start, 0))} ms)`,
  );
  console.log(
    `slow commits (over twice the median) of the slowest 1 %: ${alone} alone, ${together} with another slow commit beside them`,
  );
  console.log(
    "| events | n | total ms | queued behind commit | own commit | after commit | ops in commit | commits beside | loop gaps | not scheduled | GC |",
  );
  console.log("| --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: |");
  for (const [label, group] of [
    ["slowest 1 %", slow],
    ["fastest half", rest],
  ] as const) {
    const m = (pick: (each: (typeof timed)[number]) => number) => fmt(mean(group.map(pick)));
    console.log(
      `| ${label} | ${group.length} | ${m((e) => e.total)} | ${m((e) => e.queued)} | ${m((e) => e.commit)} | ${m((e) => e.after)} | ${m((e) => e.batch)} | ${m((e) => e.beside)} | ${m((e) => e.loopGap)} | ${m((e) => e.notScheduled)} | ${m((e) => e.gc)} |`,
    );
  }
  if (process.env.BENCH_TRACE_DUMP) {
    for (const each of slow.slice(0, 40))
      console.log(
        JSON.stringify(each, (_k, v) => (typeof v === "number" ? Number(v.toFixed(2)) : v)),
      );
  }
}

const schema = `troupe_${runId}`;
const { Pool } = createRequire(import.meta.resolve("@troupe/postgres"))("pg") as {
  Pool: new (config: {
    connectionString: string;
  }) => {
    query(sql: string): Promise<unknown>;
    on(event: "connect", listener: () => void): void;
    end(): Promise<void>;
  };
};
const pool = new Pool({ connectionString: postgresUrl });
let connections = 0;
pool.on("connect", () => {
  connections += 1;
});
const store = tracing(
  createPostgresStore({
    pool: pool as unknown as NonNullable<PostgresStoreOptions["pool"]>,
    schema,
  }),
);
const pubsub = createNatsPubSub({ servers: natsUrl, subjectPrefix: `${runId}_p` });
const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Sink] });
const streams = createStreams({
  store,
  pubsub,
  system,
  implicit: [implicitSubscription(Sink, { namespace: "bench-actor", action: "receive" })],
  sweepMs: 0,
});
try {
  for (let i = 0; i < streamCount; i++) {
    await streams.subscribe("bench-handle", `s${i}`, (event) => onDelivered(event));
  }
  for (const consumer of consumers) {
    const namespace = consumer === "actor" ? "bench-actor" : "bench-handle";
    const publish = (key: string, t: number) => streams.publish(namespace, key, { t });
    // Warm-up: activations, prepared statements, the pool's connections (as the bench does).
    for (let i = 0; i < 300; i++) await publish(`s${i % streamCount}`, performance.now());
    await steady(publish, 1_000);
    for (let run = 0; run < runs; run++) {
      commitOf.clear();
      commits.length = 0;
      gaps.length = 0;
      gcs.length = 0;
      const opened = connections;
      const stop = watchLoop();
      const cpu = process.cpuUsage();
      const samples = await steady(publish);
      const used = process.cpuUsage(cpu);
      stop();
      report(consumer, samples, (used.user + used.system) / samples.length);
      console.log(`connections opened during the run: ${connections - opened}`);
    }
  }
} finally {
  await streams.close();
  await system.close();
  await pubsub.close();
  await store.close();
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.end();
}
process.exit(0);
