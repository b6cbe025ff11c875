import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "@troupe/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createFlows } from "../src/index.js";
import { crashFunction, parseEffects, tornEffects } from "./crash-function.js";
import { openCrashPorts } from "./crash-ports.js";

const here = dirname(fileURLToPath(import.meta.url));
const packageDir = join(here, "..");
const RUNS = 1000;
const KILLS = 6;

function startWorker(args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=source", join(here, "crash-worker.ts"), ...args],
    { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (process.env.FLOWS_CRASH_DEBUG) process.stderr.write(chunk);
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`worker exited early (${code}): ${stderr}`)));
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

/**
 * What a failed "the stored result came from a logged side effect" check saw: the run, the step,
 * the stored output, every log line holding that output (whichever run or process logged it) and
 * every log line of that run.
 */
function describeMissingEffect(
  log: string,
  runId: string,
  stepId: string,
  output: unknown,
  adapter: string,
): string {
  const lines = log.split("\n").filter((line) => line !== "");
  const withOutput =
    typeof output === "string" && output !== ""
      ? lines.filter((line) => line.includes(output))
      : [];
  const ofRun = lines.filter((line) => line.startsWith(`${runId} `));
  return [
    `${adapter}: run ${runId} ${stepId} stored output ${JSON.stringify(output)} has no matching effect line`,
    `log lines holding that output (${withOutput.length}): ${withOutput.join(" | ") || "none"}`,
    `log lines of that run (${ofRun.length}): ${ofRun.join(" | ") || "none"}`,
    `torn records: ${tornEffects(log).join(" | ") || "none"}`,
    `log: ${lines.length} lines, ${log.length} bytes, ends with newline: ${log.endsWith("\n")}`,
  ].join("\n");
}

const dir = mkdtempSync(join(tmpdir(), "troupe-flows-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const adapters = [
  { name: "sqlite", location: () => join(dir, `crash-${Date.now()}.db`) },
  {
    name: "postgres",
    location: () =>
      process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  },
  { name: "redis", location: () => process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379" },
];

describe.each(adapters)(
  "crash safety on $name (worker killed with SIGKILL)",
  ({ name, location }) => {
    it(`completes ${RUNS} runs of a 5-step function through ${KILLS} SIGKILLs, losing and doubling no step result`, async () => {
      const where = location();
      const tag = `crash${Date.now().toString(36)}${process.pid}`;
      const effectsPath = join(dir, `${tag}.log`);
      const ports = openCrashPorts(name, where, tag, false);
      const flows = createFlows({
        store: ports.store,
        queue: ports.queue,
        prefix: ports.prefix,
        functions: [crashFunction(effectsPath)],
      });
      const args = [name, where, tag, effectsPath];

      let worker = await startWorker(args);
      const events = Array.from({ length: RUNS }, (_, index) => ({
        name: "crash/go",
        data: { index },
      }));
      for (let offset = 0; offset < RUNS; offset += 100) {
        await flows.send(events.slice(offset, offset + 100));
      }
      // Kill at random points of progress (between 5 % and 80 % of the runs done), so every
      // kill lands while runs are in flight, however fast the adapter is.
      const completed = async () =>
        (await flows.listRuns({ status: "completed", limit: RUNS })).length;
      const thresholds = Array.from({ length: KILLS }, () =>
        Math.floor(RUNS * (0.05 + Math.random() * 0.75)),
      ).sort((a, b) => a - b);
      const completedAtKill: number[] = [];
      for (const threshold of thresholds) {
        await waitFor(async () => (await completed()) >= threshold, {
          timeoutMs: 60_000,
          what: `${threshold} runs to complete`,
        });
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 20)));
        await kill(worker);
        completedAtKill.push(await completed());
        worker = await startWorker(args);
      }
      try {
        await waitFor(
          async () => (await flows.listRuns({ status: "completed", limit: RUNS })).length === RUNS,
          { timeoutMs: 90_000, what: `all ${RUNS} runs to complete` },
        );
        // Leftover items (re-deliveries of killed leases) drain away: nothing is stuck.
        await waitFor(
          async () => {
            const counts = await ports.queue.counts();
            return counts.waiting + counts.leased === 0;
          },
          { timeoutMs: 30_000, what: "the queue to drain" },
        );
      } finally {
        await kill(worker);
      }
      // Every kill must have landed while runs were still in flight.
      expect(completedAtKill.every((count) => count < RUNS)).toBe(true);

      const effectsLog = readFileSync(effectsPath, "utf8");
      const effects = new Map<string, Set<string>>();
      for (const effect of parseEffects(effectsLog)) {
        const key = `${effect.runId} ${effect.step}`;
        const set = effects.get(key) ?? new Set<string>();
        set.add(effect.nonce);
        effects.set(key, set);
      }
      const torn = tornEffects(effectsLog);
      let repeatedEffects = 0;
      const runs = await flows.listRuns({ limit: RUNS });
      expect(runs).toHaveLength(RUNS);
      for (const summary of runs) {
        const run = await flows.getRun(summary.id);
        expect(run?.status).toBe("completed");
        const steps = run?.steps ?? [];
        // Exactly five memoized results, each applied once, and the output is built from them.
        expect(steps.map((step) => step.id)).toEqual([
          "step-1",
          "step-2",
          "step-3",
          "step-4",
          "step-5",
        ]);
        expect(run?.output).toEqual(steps.map((step) => step.output));
        for (const step of steps) {
          const seen = effects.get(`${summary.id} ${step.id}`);
          // Each step's side effect ran at least once, and the stored result came from one of them.
          const logged = seen?.has(step.output as string);
          expect(
            logged,
            logged ? "" : describeMissingEffect(effectsLog, summary.id, step.id, step.output, name),
          ).toBe(true);
          if ((seen?.size ?? 0) > 1) repeatedEffects++;
        }
      }
      console.log(
        `crash test (${name}): ${RUNS} runs, ${KILLS} kills (completed runs at each kill: ${completedAtKill.join(", ")}), ${repeatedEffects} of ${RUNS * 5} step side effects ran more than once, ${torn.length} effect records torn by a kill${torn.length > 0 ? `: ${torn.join(" | ")}` : ""}`,
      );
      for (;;) {
        const entries = await ports.store.list({ prefix: ports.prefix, limit: 500 });
        if (entries.length === 0) break;
        await ports.store.commit(
          entries.map((entry) => ({ type: "delete", key: entry.key }) as const),
        );
      }
      await ports.close();
    }, 180_000);
  },
);
