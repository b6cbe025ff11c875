import { mkdirSync } from "node:fs";
import path from "node:path";
import { fromUtf8, StoreConflictError, systemClock, utf8 } from "@troupe/core";
import type { Command } from "commander";

/** One line of the doctor's report. */
export interface DoctorCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly ms: number;
}

async function timed(check: string, run: () => Promise<string>): Promise<DoctorCheck> {
  const started = performance.now();
  try {
    const detail = await run();
    return { check, ok: true, detail, ms: performance.now() - started };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { check, ok: false, detail, ms: performance.now() - started };
  }
}

/**
 * Opens the embedded default (one SQLite file under `dataDir`) and proves each port works end to
 * end: a guarded commit and its conflict, a queue cycle, a pub/sub round trip. Leaves no data.
 */
export async function runDoctor(dataDir: string): Promise<DoctorCheck[]> {
  mkdirSync(dataDir, { recursive: true });
  // Loaded here, not at start-up: only this command opens SQLite.
  const { createSqlitePubSub, createSqliteQueue, createSqliteStore } = await import(
    "@troupe/sqlite"
  );
  const file = path.join(dataDir, "troupe.db");
  const checks: DoctorCheck[] = [];
  const store = createSqliteStore({ path: file });
  const queue = createSqliteQueue({ path: file, queueName: "troupe-doctor", clock: systemClock });
  const pubsub = createSqlitePubSub({ path: file });
  try {
    checks.push(
      await timed("store: guarded commit", async () => {
        const key = `doctor/${process.pid}`;
        const { version } = await store.commit([
          { type: "set", key, value: utf8("ok"), expect: "absent" },
        ]);
        try {
          await store.commit([{ type: "set", key, value: utf8("again"), expect: "absent" }]);
          throw new Error("a second commit guarded on absence was accepted");
        } catch (error) {
          if (!StoreConflictError.isInstance(error)) throw error;
        }
        const entry = await store.get(key);
        await store.commit([{ type: "delete", key, expect: version }]);
        if (!entry || fromUtf8(entry.value) !== "ok")
          throw new Error("read back a different value");
        return `version ${version}, conflict detected`;
      }),
    );
    checks.push(
      await timed("queue: enqueue, claim, ack", async () => {
        const { id } = await queue.enqueue({ payload: utf8("ping") });
        const leases = await queue.claim({ limit: 1, leaseMs: 30_000 });
        const lease = leases.find((candidate) => candidate.id === id);
        if (!lease) throw new Error("the enqueued item was not claimable");
        await queue.ack(lease);
        return `item ${id} acknowledged`;
      }),
    );
    checks.push(
      await timed("pubsub: publish, receive", async () => {
        const received = new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no message within 2 s")), 2000);
          void pubsub
            .subscribe("troupe.doctor", (message) => {
              clearTimeout(timer);
              resolve(fromUtf8(message));
            })
            .then(() => pubsub.publish("troupe.doctor", utf8("pong")));
        });
        return `received ${JSON.stringify(await received)}`;
      }),
    );
  } finally {
    await Promise.allSettled([pubsub.close(), queue.close(), store.close()]);
  }
  return checks;
}

/** `troupe doctor`: checks the embedded default storage works on this machine. */
export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("check that the embedded default storage (SQLite) works here")
    .option("-d, --data <dir>", "data directory", ".troupe")
    .action(async (options: { data: string }) => {
      const dataDir = path.resolve(options.data);
      const checks = await runDoctor(dataDir);
      process.stdout.write(`troupe doctor — ${path.join(dataDir, "troupe.db")}\n`);
      for (const check of checks) {
        process.stdout.write(
          `  ${check.ok ? "ok  " : "FAIL"}  ${check.check.padEnd(28)} ${check.ms.toFixed(1).padStart(7)} ms  ${check.detail}\n`,
        );
      }
      if (checks.some((check) => !check.ok)) process.exitCode = 1;
    });
}
