import { type PubSub, type Queue, type Store, systemClock } from "@troupe/core";
import { createPostgresPubSub, createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { createRedisPubSub, createRedisQueue, createRedisStore } from "@troupe/redis";
import { createSqlitePubSub, createSqliteQueue, createSqliteStore } from "@troupe/sqlite";

/** The ports of one cross-process test, on the real clock. */
export interface CrashPorts {
  readonly store: Store;
  readonly queue: Queue;
  readonly pubsub?: PubSub;
  readonly prefix: string;
  close(): Promise<void>;
}

/** Opens the ports of `adapter` at `location` for test `tag` (with a PubSub for workers). */
export function openCrashPorts(
  adapter: string,
  location: string,
  tag: string,
  withPubSub: boolean,
): CrashPorts {
  const prefix = `flows/${tag}/`;
  let store: Store;
  let queue: Queue;
  let pubsub: PubSub | undefined;
  if (adapter === "sqlite") {
    store = createSqliteStore({ path: location });
    queue = createSqliteQueue({ path: location, clock: systemClock, queueName: tag });
    if (withPubSub) pubsub = createSqlitePubSub({ path: location });
  } else if (adapter === "postgres") {
    const schema = "troupe_flows_test";
    store = createPostgresStore({ connectionString: location, schema });
    queue = createPostgresQueue({
      connectionString: location,
      schema,
      queueName: tag,
      clock: systemClock,
    });
    if (withPubSub) {
      pubsub = createPostgresPubSub({ connectionString: location, channelPrefix: `${tag}:` });
    }
  } else if (adapter === "redis") {
    store = createRedisStore({ url: location, prefix: `troupe_flows_test:${tag}:` });
    queue = createRedisQueue({
      url: location,
      prefix: `troupe_flows_test:${tag}:`,
      queueName: tag,
      clock: systemClock,
    });
    if (withPubSub)
      pubsub = createRedisPubSub({ url: location, prefix: `troupe_flows_test:${tag}:` });
  } else {
    throw new Error(`unknown adapter ${JSON.stringify(adapter)}`);
  }
  return {
    store,
    queue,
    ...(pubsub ? { pubsub } : {}),
    prefix,
    async close() {
      await pubsub?.close();
      await queue.close();
      await store.close();
    },
  };
}
