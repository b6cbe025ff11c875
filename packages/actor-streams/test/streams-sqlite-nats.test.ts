import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNatsPubSub } from "@troupe/nats";
import { createSqliteStore } from "@troupe/sqlite";
import { afterAll } from "vitest";
import { describeStreams } from "./streams-suite.js";

const natsUrl = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const dir = mkdtempSync(join(tmpdir(), "troupe-streams-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let run = 0;

// Every "process" opens the same SQLite file with its own connection and its own NATS client.
describeStreams("SQLite Store + NATS PubSub", {
  async open() {
    const path = join(dir, `streams-${run}.db`);
    const subjectPrefix = `troupe_streams_test_${process.pid}_${run++}`;
    const closers: (() => Promise<void>)[] = [];
    return {
      async process() {
        const store = createSqliteStore({ path });
        const pubsub = createNatsPubSub({ servers: natsUrl, subjectPrefix });
        closers.push(
          () => pubsub.close(),
          () => store.close(),
        );
        return { store, pubsub };
      },
      async close() {
        for (const close of closers) await close();
      },
    };
  },
});
