import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "@troupe/core";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { afterAll, describe, it } from "vitest";
import { runBankScenario } from "./bank-in-process.js";

describe("bank invariant, SQLite", () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-actor-tx-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("keeps the books through coordinator crashes between phases and a reopen of the file", async () => {
    const path = join(dir, "bank.db");
    await runBankScenario(
      {
        open: async () => ({
          store: createSqliteStore({ path }),
          queue: createSqliteQueue({ path, clock: systemClock, queueName: "actors" }),
        }),
        close: async ({ store, queue }) => {
          await queue.close();
          await store.close();
        },
      },
      1_000,
    );
  });
});
