import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromUtf8, systemClock, utf8 } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteQueue, createSqliteStore } from "../src/index.js";
import { createTempDir } from "./temp-files.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const child = fileURLToPath(new URL("./fixtures/crash-child.ts", import.meta.url));

/**
 * Starts the writer child and SIGKILLs it once it has printed `killAfter` lines of `kind`.
 * Resolves to every line it printed (each one an acknowledged write).
 */
function runAndKill(mode: "store" | "queue", path: string, killAfter: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const process_: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=source", child, mode, path],
      { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] },
    );
    const lines: string[] = [];
    let pending = "";
    let errors = "";
    let killed = false;
    process_.stdout?.setEncoding("utf8");
    process_.stdout?.on("data", (chunk: string) => {
      pending += chunk;
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      lines.push(...parts);
      if (!killed && lines.length >= killAfter) {
        killed = true;
        process_.kill("SIGKILL");
      }
    });
    process_.stderr?.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    process_.on("error", reject);
    process_.on("close", (_code, signal) => {
      if (signal !== "SIGKILL") {
        reject(new Error(`writer exited on its own (signal ${String(signal)}): ${errors}`));
        return;
      }
      // A partial last line (cut by the kill) is no acknowledgement.
      resolve(lines);
    });
  });
}

const randomBetween = (low: number, high: number) =>
  low + Math.floor(Math.random() * (high - low + 1));

describe("crash safety (SIGKILL mid-stream)", () => {
  let temp: ReturnType<typeof createTempDir>;
  beforeEach(() => {
    temp = createTempDir("crash");
  });
  afterEach(() => temp.remove());

  it("keeps every acknowledged commit whole, none partial, and the version sequence going", async () => {
    const path = join(temp.dir, "crash.db");
    let previousMax = 0;
    for (let round = 0; round < 3; round++) {
      const lines = await runAndKill("store", path, randomBetween(300, 1500));
      const acks = lines.map((line) => {
        const [, n, version] = line.split(" ");
        return { n: Number(n), version: Number(version) };
      });
      expect(acks.length).toBeGreaterThanOrEqual(300);
      const store = createSqliteStore({ path });
      try {
        const byCommit = new Map<string, string[]>();
        for (const entry of await store.list({ prefix: "k/" })) {
          const [, n, part] = entry.key.split("/");
          expect(fromUtf8(entry.value)).toBe(String(Number(n)));
          byCommit.set(n as string, [...(byCommit.get(n as string) ?? []), part as string]);
        }
        // All three keys of a commit, or none.
        for (const parts of byCommit.values()) expect(parts).toEqual(["a", "b", "c"]);
        for (const { n, version } of acks) {
          const entry = await store.get(`k/${String(n).padStart(8, "0")}/a`);
          expect(entry?.version).toBe(version);
        }
        const maxAcked = Math.max(...acks.map((ack) => ack.version));
        expect(maxAcked).toBeGreaterThan(previousMax);
        const { version } = await store.commit([{ type: "set", key: "after", value: utf8("x") }]);
        expect(version).toBeGreaterThan(maxAcked);
        previousMax = version;
      } finally {
        await store.close();
      }
    }
  }, 60_000);

  it("never brings back an acknowledged queue item and keeps every unacknowledged one", async () => {
    const path = join(temp.dir, "queue.db");
    for (let round = 0; round < 2; round++) {
      // Six lines per four items (enq ×4, acking, done): 420 lines or more give over 50 acks.
      const lines = await runAndKill("queue", path, randomBetween(420, 1200));
      const enqueued = lines.filter((line) => line.startsWith("enq ")).map((line) => line.slice(4));
      const done = new Set(
        lines.filter((line) => line.startsWith("done ")).map((line) => line.slice(5)),
      );
      expect(done.size).toBeGreaterThan(50);
      // An ack cut off by the kill may or may not have committed: that one item may be either.
      const lastAcking = lines
        .filter((line) => line.startsWith("acking "))
        .at(-1)
        ?.slice(7);
      const inFlight = lastAcking !== undefined && !done.has(lastAcking) ? lastAcking : undefined;
      const queue = createSqliteQueue({ path, queueName: "crash", clock: systemClock });
      try {
        for (const n of enqueued) {
          const id = `item-${n}`;
          const item = await queue.get(id);
          if (id === inFlight) continue;
          if (done.has(id)) expect(item, `${id} was acknowledged`).toBeUndefined();
          else expect(item?.payload, `${id} was not acknowledged`).toEqual(utf8(n));
        }
        // Start the next round from an empty queue: ids are reused.
        for (const n of enqueued) await queue.remove(`item-${n}`);
        await queue.remove(`item-${enqueued.length + 1}`);
      } finally {
        await queue.close();
      }
    }
  }, 60_000);
});
