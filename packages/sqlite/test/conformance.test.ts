import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePubSub, describeQueue, describeStore, type SuiteContext } from "@troupe/testkit";
import { availableDrivers } from "../src/database.js";
import { createSqlitePubSub, createSqliteQueue, createSqliteStore } from "../src/index.js";

// One SQLite file per test, named by the test's id; peers open a second connection on it.
const fileOf = (context: SuiteContext) => join(tmpdir(), `troupe-sqlite-${context.id}.db`);
const removeFiles = (context: SuiteContext) => {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    rmSync(`${fileOf(context)}${suffix}`, { force: true });
  }
};

// Every suite on every driver this Node runs: better-sqlite3 on Node 20 and 22, node:sqlite
// where it loads without a flag (Node 22.13+; the only one on Node ≥ 24).
for (const driver of availableDrivers()) {
  const label = (variant = "") => `sqlite ${driver}${variant}`;

  describeStore(label(), {
    create: (context) => createSqliteStore({ path: fileOf(context), driver }),
    openPeer: (context) => createSqliteStore({ path: fileOf(context), driver }),
    reopen: (context) => createSqliteStore({ path: fileOf(context), driver }),
    destroy: removeFiles,
  });

  const openQueue = (context: SuiteContext) =>
    createSqliteQueue({
      path: fileOf(context),
      queueName: `q_${context.id}`,
      clock: context.clock,
      driver,
    });

  describeQueue(label(), {
    create: openQueue,
    openPeer: openQueue,
    reopen: openQueue,
    destroy: removeFiles,
  });

  describePubSub(label(), {
    create: (context) => createSqlitePubSub({ path: fileOf(context), driver }),
    openPeer: (context) => createSqlitePubSub({ path: fileOf(context), driver }),
    destroy: removeFiles,
  });

  // Every delivery through the file, as between processes.
  describePubSub(label(" (polling only)"), {
    create: (context) =>
      createSqlitePubSub({ path: fileOf(context), inProcessDelivery: false, driver }),
    openPeer: (context) =>
      createSqlitePubSub({ path: fileOf(context), inProcessDelivery: false, driver }),
    destroy: removeFiles,
  });

  // exclusive: one connection holds the file; the suites run without a peer connection.
  describeStore(label(" (exclusive)"), {
    create: (context) => createSqliteStore({ path: fileOf(context), exclusive: true, driver }),
    destroy: removeFiles,
  });

  describeQueue(label(" (exclusive)"), {
    create: (context) =>
      createSqliteQueue({
        path: fileOf(context),
        exclusive: true,
        queueName: `q_${context.id}`,
        clock: context.clock,
        driver,
      }),
    destroy: removeFiles,
  });
}
