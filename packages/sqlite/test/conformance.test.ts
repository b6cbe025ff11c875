import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePubSub, describeQueue, describeStore, type SuiteContext } from "@troupe/testkit";
import { createSqlitePubSub, createSqliteQueue, createSqliteStore } from "../src/index.js";

// One SQLite file per test, named by the test's id; peers open a second connection on it.
const fileOf = (context: SuiteContext) => join(tmpdir(), `troupe-sqlite-${context.id}.db`);
const removeFiles = (context: SuiteContext) => {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    rmSync(`${fileOf(context)}${suffix}`, { force: true });
  }
};

describeStore("sqlite", {
  create: (context) => createSqliteStore({ path: fileOf(context) }),
  openPeer: (context) => createSqliteStore({ path: fileOf(context) }),
  reopen: (context) => createSqliteStore({ path: fileOf(context) }),
  destroy: removeFiles,
});

const openQueue = (context: SuiteContext) =>
  createSqliteQueue({ path: fileOf(context), queueName: `q_${context.id}`, clock: context.clock });

describeQueue("sqlite", {
  create: openQueue,
  openPeer: openQueue,
  reopen: openQueue,
  destroy: removeFiles,
});

describePubSub("sqlite", {
  create: (context) => createSqlitePubSub({ path: fileOf(context) }),
  openPeer: (context) => createSqlitePubSub({ path: fileOf(context) }),
  destroy: removeFiles,
});

// Every delivery through the file, as between processes.
describePubSub("sqlite (polling only)", {
  create: (context) => createSqlitePubSub({ path: fileOf(context), inProcessDelivery: false }),
  openPeer: (context) => createSqlitePubSub({ path: fileOf(context), inProcessDelivery: false }),
  destroy: removeFiles,
});

// exclusive: one connection holds the file; the suites run without a peer connection.
describeStore("sqlite (exclusive)", {
  create: (context) => createSqliteStore({ path: fileOf(context), exclusive: true }),
  destroy: removeFiles,
});

describeQueue("sqlite (exclusive)", {
  create: (context) =>
    createSqliteQueue({
      path: fileOf(context),
      exclusive: true,
      queueName: `q_${context.id}`,
      clock: context.clock,
    }),
  destroy: removeFiles,
});
