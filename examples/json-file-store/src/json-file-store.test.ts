import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { SuiteContext } from "@troupe/testkit";
import { describeStore } from "@troupe/testkit";
import { createJsonFileStore } from "./json-file-store.js";

// One file per test: the context's id is unique per run and test.
const fileOf = (context: SuiteContext) => path.join(os.tmpdir(), `troupe-json-${context.id}.json`);

describeStore("json-file", {
  create: (context) => createJsonFileStore({ path: fileOf(context) }),
  // A second handle on the same file turns on the cross-connection tests.
  openPeer: (context) => createJsonFileStore({ path: fileOf(context) }),
  // Opening the file again after close turns on the durability tests.
  reopen: (context) => createJsonFileStore({ path: fileOf(context) }),
  destroy: (context) => rmSync(fileOf(context), { force: true }),
});
