import { ManualClock } from "@troupe/core";
import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { waitFor } from "@troupe/testkit";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { statementKind } from "../bench/commits.js";
import { createFlows, createFunction } from "../src/index.js";

const url = process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

// The commits a 3-step workflow costs on PostgreSQL, counted statement by statement through the
// pool the store and queue share (every statement runs in a transaction of its own).
describe("a 3-step workflow on PostgreSQL", () => {
  const pool = new pg.Pool({ connectionString: url });
  afterAll(() => pool.end());

  it("costs 5 commits: the run with its first item, one claim, one per step (the last with the end and the ack)", async () => {
    const seen: string[] = [];
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<{ rowCount: number }>;
    (pool as unknown as { query: typeof query }).query = async (...args) => {
      const first = args[0];
      const text = typeof first === "string" ? first : ((first as { text?: string }).text ?? "");
      const result = await query(...args);
      const kind = statementKind(text, (first as { values?: unknown[] }).values);
      seen.push(kind === "claim" && result.rowCount === 0 ? "claim (none due)" : kind);
      return result;
    };
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    const schema = "troupe_flows_test";
    const tag = `commits${Date.now().toString(36)}`;
    const store = createPostgresStore({ pool, schema });
    const queue = createPostgresQueue({ pool, schema, queueName: tag, clock });
    const three = createFunction(
      { id: "three", triggers: [{ event: "t/go" }] },
      async ({ step }) => {
        const a = await step.run("a", () => 1);
        const b = await step.run("b", () => a + 1);
        return step.run("c", () => b + 1);
      },
    );
    const flows = createFlows({ store, queue, clock, prefix: `flows/${tag}/`, functions: [three] });
    // Warm up (migrations), then count one workflow from send to the end of the worker's turn.
    await flows.send({ name: "t/warm" });
    await flows.runDue();
    seen.length = 0;
    await flows.send({ name: "t/go" });
    await flows.runDue();
    const [run] = await flows.listRuns({ functionId: "three" });
    expect(run?.status).toBe("completed");
    const count = (kind: string) => seen.filter((seenKind) => seenKind === kind).length;
    expect(count("store commit + enqueue")).toBe(1);
    expect(count("enqueue")).toBe(0);
    // Steps a and b, then c with the run's end and the item's ack (the handler returned right
    // after it, and nothing is left to do once the run ended).
    expect(count("store commit")).toBe(2);
    expect(count("store commit + ack")).toBe(1);
    expect(count("claim")).toBe(1);
    expect(count("ack / remove") + count("ack many")).toBe(0);
    const commits = seen.filter((kind) =>
      [
        "store commit + enqueue",
        "store commit + ack",
        "store commit",
        "enqueue",
        "claim",
        "ack / remove",
        "ack many",
        "retry",
        "extend",
      ].includes(kind),
    );
    expect(commits).toHaveLength(5);
    for (;;) {
      const entries = await store.list({ prefix: `flows/${tag}/`, limit: 1000 });
      if (entries.length === 0) break;
      await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
    }
    await queue.close();
    await store.close();
  });

  it("with a started worker costs 4 commits and no claim: the run's first item comes leased to the worker in the creating commit", async () => {
    const seen: string[] = [];
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<{ rowCount: number }>;
    (pool as unknown as { query: typeof query }).query = async (...args) => {
      const first = args[0];
      const text = typeof first === "string" ? first : ((first as { text?: string }).text ?? "");
      const result = await query(...args);
      const kind = statementKind(text, (first as { values?: unknown[] }).values);
      seen.push(kind === "claim" && result.rowCount === 0 ? "claim (none due)" : kind);
      return result;
    };
    // A manual clock: the worker idles until woken and the marker delete waits for a step
    // commit to ride on, so the counts do not depend on timing.
    const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
    const schema = "troupe_flows_test";
    const tag = `handoff${Date.now().toString(36)}`;
    const store = createPostgresStore({ pool, schema });
    const queue = createPostgresQueue({ pool, schema, queueName: tag, clock });
    const three = createFunction(
      { id: "three", triggers: [{ event: "t/go" }] },
      async ({ step }) => {
        const a = await step.run("a", () => 1);
        const b = await step.run("b", () => a + 1);
        return step.run("c", () => b + 1);
      },
    );
    const flows = createFlows({
      store,
      queue,
      clock,
      prefix: `flows/${tag}/`,
      functions: [three],
      keepProcessAlive: false,
    });
    await flows.start();
    try {
      // Warm up (migrations, the worker's first look at the queue), then count one workflow.
      const warm = await flows.send({ name: "t/go" });
      const {
        runs: [warmRun],
      } = await flows.getEventRuns(warm.ids[0] as string);
      await flows.waitForRun(warmRun?.id as string);
      await waitFor(async () => (await queue.counts()).leased === 0, { what: "the warm-up ack" });
      // The warm-up's own statements (and the counts above) are not counted.
      seen.length = 0;
      const sent = await flows.send({ name: "t/go" });
      const {
        runs: [run],
      } = await flows.getEventRuns(sent.ids[0] as string);
      expect((await flows.waitForRun(run?.id as string)).status).toBe("completed");
      await waitFor(() => seen.includes("store commit + ack"), { what: "the ack" });
    } finally {
      await flows.stop();
    }
    const count = (kind: string) => seen.filter((seenKind) => seenKind === kind).length;
    expect(count("store commit + enqueue")).toBe(1);
    expect(count("claim")).toBe(0);
    expect(count("claim (none due)")).toBe(0);
    expect(count("store commit")).toBe(2);
    expect(count("store commit + ack")).toBe(1);
    expect(count("ack / remove") + count("ack many")).toBe(0);
    for (;;) {
      const entries = await store.list({ prefix: `flows/${tag}/`, limit: 1000 });
      if (entries.length === 0) break;
      await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
    }
    await queue.close();
    await store.close();
  });
});
