import { createPostgresStore } from "@troupe/postgres";
import { createRedisPubSub } from "@troupe/redis";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll } from "vitest";
import { describeStreams } from "./streams-suite.js";

const redisUrl = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const schemas = scratchSchemas("actor_streams", { from: import.meta.url });
beforeAll(() => schemas.assertReachable());
afterAll(() => schemas.dropAll());

let run = 0;

// Every "process" has its own PostgreSQL pool and its own Redis connections.
describeStreams("PostgreSQL Store + Redis PubSub", {
  async open() {
    const schema = schemas.fresh();
    const prefix = `troupe-streams-test:${process.pid}:${run++}:`;
    const closers: (() => Promise<void>)[] = [];
    return {
      async process() {
        const store = createPostgresStore({ connectionString: postgresUrl, schema });
        const pubsub = createRedisPubSub({ url: redisUrl, prefix });
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
