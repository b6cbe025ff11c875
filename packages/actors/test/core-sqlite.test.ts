import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { describeActorCore } from "./core-suite.js";

describeActorCore("sqlite", async (clock) => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-actors-"));
  const path = join(dir, "actors.db");
  const store = createSqliteStore({ path });
  const queue = createSqliteQueue({ path, clock, queueName: "actors" });
  return {
    store,
    queue,
    async close() {
      await queue.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
