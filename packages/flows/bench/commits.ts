// Counts the SQL round trips and commits of a 3-step workflow run one at a time on PostgreSQL.
// Run with `pnpm bench commits` (tsx --conditions=source bench/index.ts commits).
import { type PubSub, systemClock } from "@troupe/core";
import { createPostgresPubSub, createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { printTable } from "@troupe/testkit";
import pg from "pg";
import { createFlows, createFunction } from "../src/index.js";

/**
 * What a statement is, from its text (and, for the paired commit, its parameters): a write
 * commits a transaction of its own. The paired commit is one prepared statement whatever it
 * carries; its item ids ($7) and acknowledged leases ($14) say what it did.
 */
export function statementKind(text: string, values?: readonly unknown[]): string {
  const sql = text.trim().replace(/\s+/g, " ");
  if (sql.includes("store_commit(")) {
    if (!/INSERT /i.test(sql)) return "store commit";
    const count = (index: number) => {
      const value = values?.[index];
      return Array.isArray(value) ? value.length : 0;
    };
    if (values === undefined) return "store commit + enqueue";
    const parts = [count(6) > 0 ? " + enqueue" : "", count(13) > 0 ? " + ack" : ""].join("");
    return `store commit${parts}`;
  }
  if (/^INSERT /i.test(sql)) return "enqueue";
  if (/^WITH due AS/i.test(sql)) return "claim";
  if (/^WITH held AS .* DELETE /i.test(sql)) return "ack many";
  if (/^WITH held AS .* UPDATE /i.test(sql)) return "retry many";
  if (/^DELETE /i.test(sql)) return "ack / remove";
  if (/^UPDATE .* SET lease_expires_at = \$4/i.test(sql)) return "extend";
  if (/^UPDATE /i.test(sql)) return "retry";
  if (/pg_notify|^NOTIFY/i.test(sql)) return "notify";
  return "read";
}

const WRITES = new Set([
  "store commit + enqueue",
  "store commit + ack",
  "store commit + enqueue + ack",
  "store commit",
  "enqueue",
  "claim",
  "ack many",
  "retry many",
  "ack / remove",
  "extend",
  "retry",
]);

/** A pool whose `query` calls are counted by statement kind. */
export function countingPool(connectionString: string) {
  const pool = new pg.Pool({ connectionString });
  const counts = new Map<string, number>();
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args) => {
    const first = args[0];
    const text = typeof first === "string" ? first : ((first as { text?: string }).text ?? "");
    const kind = statementKind(text, (first as { values?: unknown[] }).values);
    const t0 = performance.now();
    const promise = query(...args) as Promise<{ rowCount: number | null }>;
    return promise.then((result) => {
      const seen = kind === "claim" && !result.rowCount ? "claim (none due)" : kind;
      counts.set(seen, (counts.get(seen) ?? 0) + 1);
      if (process.env.FLOWS_BENCH_COMMITS_TRACE)
        console.log(
          `${t0.toFixed(2)} +${(performance.now() - t0).toFixed(2)} ms ${seen}`,
          text.replace(/\s+/g, " ").slice(0, 60),
        );
      return result;
    });
  };
  return {
    pool,
    counts,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    writes: () =>
      [...counts.entries()].filter(([kind]) => WRITES.has(kind)).reduce((a, [, n]) => a + n, 0),
  };
}

/** Runs `workflows` 3-step workflows one at a time; prints round trips per workflow by kind. */
export async function commitsBench(url: string, workflows = 100): Promise<Map<string, number>> {
  const tag = `c${Date.now().toString(36)}`;
  const schema = "troupe_flows_bench";
  const counting = countingPool(url);
  const { pool } = counting;
  const store = createPostgresStore({ pool, schema });
  const queue = createPostgresQueue({ pool, schema, queueName: tag, clock: systemClock });
  const realPubSub = createPostgresPubSub({ connectionString: url, channelPrefix: `${tag}:` });
  // NOTIFY goes through the pub/sub's own connection: counted here.
  const pubsub: PubSub = {
    ...realPubSub,
    publish: (channel, message) => {
      counting.counts.set("notify", (counting.counts.get("notify") ?? 0) + 1);
      return realPubSub.publish(channel, message);
    },
  };
  let finish: (runId: string) => void = () => {};
  const fn = createFunction(
    { id: "three", triggers: [{ event: "bench/go" }] },
    async ({ event, step, runId }) => {
      const a = await step.run("a", () => (event.data.n as number) + 1);
      const b = await step.run("b", () => a * 2);
      const c = await step.run("c", () => b + 1);
      finish(runId);
      return c;
    },
  );
  const flows = createFlows({
    store,
    queue,
    pubsub,
    prefix: `flows/${tag}/`,
    functions: [fn],
    pollIntervalMs: 1000,
    sweepIntervalMs: 3_600_000,
  });
  await flows.start();
  // Warm-up (migrations, prepared statements), then count.
  const one = async (n: number) => {
    const done = new Promise<string>((resolve) => {
      finish = resolve;
    });
    await flows.send({ name: "bench/go", data: { n } });
    await flows.waitForRun(await done);
  };
  await one(0);
  await new Promise((resolve) => setTimeout(resolve, 300));
  counting.counts.clear();
  for (let n = 1; n <= workflows; n++) await one(n);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const counts = new Map(counting.counts);
  await flows.stop();
  for (;;) {
    const entries = await store.list({ prefix: `flows/${tag}/`, limit: 1000 });
    if (entries.length === 0) break;
    await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
  }
  await realPubSub.close();
  await queue.close();
  await store.close();
  await pool.end();
  const rows = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => ({
      statement: kind,
      commits: WRITES.has(kind) ? "yes" : "no",
      "per workflow": (n / workflows).toFixed(2),
    }));
  rows.push({
    statement: "all round trips",
    commits: "",
    "per workflow": (counting.total() / workflows).toFixed(2),
  });
  rows.push({
    statement: "all commits",
    commits: "",
    "per workflow": (counting.writes() / workflows).toFixed(2),
  });
  printTable(
    `SQL round trips per 3-step workflow, one at a time (${workflows} workflows, PostgreSQL)`,
    rows,
  );
  return counts;
}
