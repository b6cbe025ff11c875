// SIGKILL of a single SQLite node in the middle of one-phase commits (every participant in the
// coordinator's process): the restarted node finds all of a transaction or nothing of it.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteStore } from "@troupe/sqlite";
import { afterAll, describe, it } from "vitest";
import { type CrashPoint, randomTransfers, transfer } from "./crash-support/plan.js";
import { runCrashScenario } from "./crash-support/scenario.js";

const ACCOUNTS = 100;
const children = new Set<ChildProcess>();
const dir = mkdtempSync(join(tmpdir(), "troupe-tx-crash-"));
afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

// Both cases at once: each has its own file and its own node process.
describe.concurrent("one-phase commit, SQLite: the node is SIGKILLed and restarts on the same file", () => {
  const cases: [CrashPoint, string][] = [
    ["before-commit", "nothing of the victim is applied"],
    ["after-commit", "the victim is applied (the commit was its decision)"],
  ];
  for (const [point, outcome] of cases) {
    it(`killed ${point}: ${outcome}; the books balance`, async () => {
      const path = join(dir, `${point}.db`);
      const victim = transfer("victim", 1, 2, 25);
      const transfers = randomTransfers("t", 120, ACCOUNTS, 3);
      transfers.splice(40, 0, victim);
      const store = createSqliteStore({ path });
      try {
        const summary = await runCrashScenario({
          backend: { kind: "sqlite", path },
          store,
          accounts: ACCOUNTS,
          survivors: [],
          coordinator: "solo",
          transfers,
          victim,
          point,
          after: [transfer("after-1", 1, 2, 5), transfer("after-2", 2, 3, 5)],
          timeoutMs: 3_000,
          children,
        });
        console.log(`one-phase crash, SQLite, ${summary}`);
      } finally {
        await store.close();
      }
    }, 90_000);
  }
});
