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

const here = dirname(fileURLToPath(import.meta.url));
const url = process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const RUNS = 300;

function startWorker(prefix: string, effectsPath: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--conditions=source",
      join(here, "crash-worker.ts"),
      "postgres",
      url,
      prefix,
      effectsPath,
    ],
    { cwd: join(here, ".."), stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve(child);
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
});
