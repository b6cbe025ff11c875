import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { systemClock } from "@troupe/core";
import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { waitFor } from "@troupe/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createFlows } from "../src/index.js";
import { crashFunction, parseEffects } from "./crash-function.js";
import { flowControlFunctions, parseFlowControlLog } from "./fc-functions.js";

const here = dirname(fileURLToPath(import.meta.url));
const url = process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const RUNS = 300;

function startWorker(prefix: string, effectsPath: string): Promise<ChildProcess> {
  return spawnWorker(["crash-worker.ts", "postgres", url, prefix, effectsPath], "ready");
}

/** Spawns a test worker script and resolves once it printed `signal`. */
function spawnWorker(args: readonly string[], signal: string): Promise<ChildProcess> {
  const [script = "", ...rest] = args;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=source", join(here, script), ...rest],
    { cwd: join(here, ".."), stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes(signal)) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`worker exited early (${code}): ${stderr}`)));
  });
}

describe("two worker processes on one PostgreSQL", () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-flows-pg-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`share ${RUNS} runs without running a step twice concurrently`, async () => {
    const prefix = `w${Date.now().toString(36)}${process.pid}`;
    const effectsPath = join(dir, "effects.log");
    const store = createPostgresStore({ connectionString: url, schema: "troupe_flows_test" });
    const queue = createPostgresQueue({
      connectionString: url,
      schema: "troupe_flows_test",
      queueName: prefix,
      clock: systemClock,
    });
    const flows = createFlows({
      store,
      queue,
      prefix: `flows/${prefix}/`,
      functions: [crashFunction(effectsPath)],
    });
    const workers = await Promise.all([
      startWorker(prefix, effectsPath),
      startWorker(prefix, effectsPath),
    ]);
    try {
      const events = Array.from({ length: RUNS }, (_, index) => ({
        name: "crash/go",
        data: { index },
      }));
      for (let offset = 0; offset < RUNS; offset += 50)
        await flows.send(events.slice(offset, offset + 50));
      await waitFor(
        async () => (await flows.listRuns({ status: "completed", limit: RUNS })).length === RUNS,
        { timeoutMs: 60_000, what: `all ${RUNS} runs to complete` },
      );
    } finally {
      for (const worker of workers) worker.kill("SIGKILL");
    }
    const effects = parseEffects(readFileSync(effectsPath, "utf8"));
    const byStep = new Map<string, { startedAt: number; endedAt: number }[]>();
    for (const effect of effects) {
      const key = `${effect.runId} ${effect.step}`;
      byStep.set(key, [...(byStep.get(key) ?? []), effect]);
    }
    // Every step of every run ran, no step ever ran in two places at once, and both processes
    // took a share of the work.
    expect(byStep.size).toBe(RUNS * 5);
    let repeated = 0;
    for (const runs of byStep.values()) {
      if (runs.length > 1) repeated++;
      const sorted = [...runs].sort((a, b) => a.startedAt - b.startedAt);
      for (let index = 1; index < sorted.length; index++) {
        expect(sorted[index]?.startedAt).toBeGreaterThanOrEqual(sorted[index - 1]?.endedAt ?? 0);
      }
    }
    const pids = new Set(effects.map((effect) => effect.pid));
    expect(pids.size).toBe(2);
    const share = Math.min(...[...pids].map((pid) => effects.filter((e) => e.pid === pid).length));
    expect(share).toBeGreaterThan(RUNS * 5 * 0.1);
    console.log(
      `two workers: ${RUNS * 5} steps, split ${[...pids].map((pid) => effects.filter((e) => e.pid === pid).length).join(" / ")}, ${repeated} ran more than once (never concurrently)`,
    );

    // Clean up this test's keys (the queue is empty once every run completed).
    for (;;) {
      const entries = await store.list({ prefix: `flows/${prefix}/`, limit: 500 });
      if (entries.length === 0) break;
      await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
    }
    await queue.close();
    await store.close();
  }, 120_000);
  it("hold flow control across both: concurrency 3 per key, throttle and rate limit", async () => {
    const tag = `fc${Date.now().toString(36)}${process.pid}`;
    const prefix = `flows/${tag}/`;
    const logPath = join(dir, "flow-control.log");
    const store = createPostgresStore({ connectionString: url, schema: "troupe_flows_test" });
    const queue = createPostgresQueue({
      connectionString: url,
      schema: "troupe_flows_test",
      queueName: tag,
      clock: systemClock,
    });
    // The sender registers the same functions (to route events) but runs no worker.
    const flows = createFlows({ store, queue, prefix, functions: flowControlFunctions(logPath) });
    // Each worker sends 20 events to the rate-limited function as it starts (limit 5 per minute).
    const workers = await Promise.all([
      spawnWorker(["fc-worker.ts", url, tag, logPath, "20"], "sent"),
      spawnWorker(["fc-worker.ts", url, tag, logPath, "20"], "sent"),
    ]);
    const HOT = 60;
    const THROTTLED = 20;
    try {
      await flows.send([
        ...Array.from({ length: HOT }, (_, n) => ({ name: "fc/limited", data: { key: "hot", n } })),
        ...Array.from({ length: 10 }, (_, n) => ({ name: "fc/limited", data: { key: "cold", n } })),
      ]);
      await flows.send(
        Array.from({ length: THROTTLED }, (_, n) => ({ name: "fc/throttled", data: { n } })),
      );
      const done = async (functionId: string, count: number) =>
        (await flows.listRuns({ functionId, status: "completed", limit: 1000 })).length === count;
      await waitFor(
        async () => (await done("fc-limited", HOT + 10)) && (await done("fc-throttled", THROTTLED)),
        {
          timeoutMs: 30_000,
          what: "the limited and throttled runs to complete",
        },
      );
    } finally {
      for (const worker of workers) worker.kill("SIGKILL");
    }
    const effects = parseFlowControlLog(readFileSync(logPath, "utf8"));

    // Concurrency: sweep the step intervals of key "hot" in time order (an end before a start
    // at the same instant: a slot handed over is not an overlap).
    const hot = effects
      .filter((effect) => effect.fn === "fc-limited" && effect.key === "hot")
      .sort((a, b) => a.at - b.at || (a.phase === "end" ? -1 : 1));
    let active = 0;
    let maxActive = 0;
    for (const effect of hot) {
      active += effect.phase === "start" ? 1 : -1;
      maxActive = Math.max(maxActive, active);
    }
    const pids = new Set(hot.map((effect) => effect.pid));
    expect(hot.filter((effect) => effect.phase === "start").length).toBeGreaterThanOrEqual(HOT);
    expect(maxActive).toBeLessThanOrEqual(3);
    expect(maxActive).toBe(3);
    expect(pids.size).toBe(2);

    // Throttle (5 per second, no burst: 5 at once, then one every 200 ms): the k-th start comes
    // at least (k − 5) × 200 ms after the first, whichever process started it. The log records
    // when the step ran, a little after the throttle's decision, hence the slack; two workers
    // throttling on their own would take half the time.
    const starts = effects
      .filter((effect) => effect.fn === "fc-throttled")
      .map((effect) => effect.at)
      .sort((a, b) => a - b);
    const first = starts[0] ?? 0;
    const SLACK_MS = 250;
    expect(new Set(starts).size).toBe(THROTTLED);
    starts.forEach((at, index) => {
      if (index >= 5) expect(at - first).toBeGreaterThanOrEqual((index - 4) * 200 - SLACK_MS);
    });
    expect((starts.at(-1) ?? 0) - first).toBeGreaterThanOrEqual((THROTTLED - 5) * 200 - SLACK_MS);

    // Rate limit: 40 events sent by the two workers at once, 5 runs in all.
    const rated = await flows.listRuns({ functionId: "fc-rated", limit: 1000 });
    expect(rated).toHaveLength(5);
    console.log(
      `two workers, flow control: max ${maxActive} steps of key "hot" at once (limit 3), split ${[...pids].map((pid) => hot.filter((e) => e.pid === pid && e.phase === "start").length).join(" / ")}; throttled starts spread over ${Math.round((starts.at(-1) ?? first) - first)} ms (20 runs, 5/s); rate-limited runs ${rated.length} of 40 events`,
    );

    for (;;) {
      const entries = await store.list({ prefix, limit: 500 });
      if (entries.length === 0) break;
      await store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
    }
    await queue.close();
    await store.close();
  }, 120_000);
});
