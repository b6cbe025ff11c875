// Where the C=1 tail goes: 3-step workflows one at a time on PostgreSQL, each timed from `send`
// to `waitForRun`, with the time spent inside SQL statements, GC pauses and event-loop delay
// attributed to each workflow. Compares the slowest 1 % with the median workflow.
// Run with `pnpm bench tail` (tsx --conditions=source bench/index.ts tail).
import { loadavg } from "node:os";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { systemClock } from "@troupe/core";
import { createPostgresPubSub, createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { printTable } from "@troupe/testkit";
import pg from "pg";
import { createFlows, createFunction } from "../src/index.js";
import { statementKind } from "./commits.js";

interface Span {
  readonly start: number;
  readonly end: number;
}

interface Workflow extends Span {
  /** When the handler first ran (the run reached a worker). */
  readonly picked: number;
}

/** How much of `a` some span of `spans` covers (overlapping spans count once). */
const overlap = (a: Span, spans: readonly Span[]): number => {
  const clipped = spans
    .map((b) => ({ start: Math.max(a.start, b.start), end: Math.min(a.end, b.end) }))
    .filter((b) => b.end > b.start)
    .sort((x, y) => x.start - y.start);
  let covered = 0;
  let reach = a.start;
  for (const b of clipped) {
    if (b.end <= reach) continue;
    covered += b.end - Math.max(b.start, reach);
    reach = b.end;
  }
  return covered;
};

/** Runs `workflows` one at a time and prints where the slowest 1 % spent their time. */
export async function tailBench(url: string, workflows = 1000): Promise<void> {
  const loadBefore = loadavg()[0] ?? 0;
  const tag = `t${Date.now().toString(36)}`;
  const schema = "troupe_flows_bench";
  const pool = new pg.Pool({ connectionString: url });
  const queries: (Span & { kind: string })[] = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: typeof query }).query = (...args) => {
    const first = args[0];
    const text = typeof first === "string" ? first : ((first as { text?: string }).text ?? "");
    const start = performance.now();
    return query(...args).then((result) => {
      queries.push({
        start,
        end: performance.now(),
        kind: statementKind(text, (first as { values?: unknown[] }).values),
      });
      return result;
    });
  };
  const gcs: Span[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      gcs.push({ start: entry.startTime, end: entry.startTime + entry.duration });
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });

  const store = createPostgresStore({ pool, schema });
  const queue = createPostgresQueue({ pool, schema, queueName: tag, clock: systemClock });
  const pubsub = createPostgresPubSub({ connectionString: url, channelPrefix: `${tag}:` });
  const picked = new Map<number, number>();
  const fn = createFunction(
    { id: "three", triggers: [{ event: "bench/go" }] },
    async ({ event, step }) => {
      const n = event.data.n as number;
      if (!picked.has(n)) picked.set(n, performance.now());
      const a = await step.run("a", () => n + 1);
      const b = await step.run("b", () => a * 2);
      return step.run("c", () => b + 1);
    },
  );
  const flows = createFlows({
    store,
    queue,
    pubsub,
    prefix: `flows/${tag}/`,
    functions: [fn],
    workerConcurrency: 64,
  });
  await flows.start();
  const one = async (n: number): Promise<Workflow> => {
    const start = performance.now();
    const sent = await flows.send({ name: "bench/go", data: { n } });
    const { runs } = await flows.getEventRuns(sent.ids[0] as string);
    const run = await flows.waitForRun(runs[0]?.id as string);
    if (run.status !== "completed") throw new Error(`run ${run.id} ended ${run.status}`);
    return { start, end: performance.now(), picked: picked.get(n) ?? start };
  };
  for (let n = 0; n < 100; n++) await one(-1 - n);
  queries.length = 0;
  gcs.length = 0;
  loopDelay.enable();
  const timed: Workflow[] = [];
  for (let n = 0; n < workflows; n++) timed.push(await one(n));
  loopDelay.disable();
  gcObserver.disconnect();
  await flows.stop();
  for (;;) {
    const entries = await store.list({ prefix: `flows/${tag}/`, limit: 1000 });
    if (entries.length === 0) break;
    await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
  }
  await pubsub.close();
  await queue.close();
  await store.close();
  await pool.end();

  const byLatency = [...timed].sort((a, b) => a.end - a.start - (b.end - b.start));
  const ms = (w: Span) => w.end - w.start;
  const p50 = ms(byLatency[Math.floor(byLatency.length / 2)] as Span);
  const p99 = ms(byLatency[Math.floor(byLatency.length * 0.99)] as Span);
  const slowest = byLatency.slice(Math.floor(byLatency.length * 0.99));
  const middle = byLatency.slice(
    Math.floor(byLatency.length * 0.45),
    Math.floor(byLatency.length * 0.55),
  );
  const inside = (w: Span) => queries.filter((q) => q.start >= w.start && q.end <= w.end);
  const describe = (group: readonly Workflow[]) => {
    const mean = (value: (w: Workflow) => number) =>
      group.reduce((sum, w) => sum + value(w), 0) / group.length;
    return {
      "latency ms": mean(ms).toFixed(2),
      "send → handler ms": mean((w) => w.picked - w.start).toFixed(2),
      "in SQL ms": mean((w) => overlap(w, queries)).toFixed(2),
      "in GC ms": mean((w) => overlap(w, gcs)).toFixed(2),
      "with a GC pause": `${group.filter((w) => overlap(w, gcs) > 0).length} / ${group.length}`,
      statements: mean((w) => inside(w).length).toFixed(1),
      "longest statement ms": mean((w) => Math.max(0, ...inside(w).map(ms))).toFixed(2),
    };
  };
  const slowestQueries = [...queries].sort((a, b) => ms(b) - ms(a)).slice(0, 5);
  printTable(
    `C=1 tail on PostgreSQL: ${workflows} 3-step workflows one at a time (p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, p99/p50 ${(p99 / p50).toFixed(1)})`,
    [
      { group: "median 10 %", ...describe(middle) },
      { group: "slowest 1 %", ...describe(slowest) },
    ],
  );
  console.log(
    `event-loop delay: p50 ${(loopDelay.percentile(50) / 1e6).toFixed(2)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(2)} ms, max ${(loopDelay.max / 1e6).toFixed(2)} ms; GC pauses: ${gcs.length}, total ${gcs.reduce((sum, g) => sum + ms(g), 0).toFixed(1)} ms, longest ${Math.max(0, ...gcs.map(ms)).toFixed(2)} ms`,
  );
  console.log(
    `slowest statements: ${slowestQueries.map((q) => `${q.kind} ${ms(q).toFixed(1)} ms`).join(", ")}`,
  );
  console.log(
    `load average (1 min): ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after`,
  );
}
