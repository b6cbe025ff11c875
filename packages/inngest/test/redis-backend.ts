import { systemClock } from "@troupe/core";
import { createRedisQueue, createRedisStore } from "@troupe/redis";
import type { LifecycleBackend } from "./lifecycle-suite.js";

/** Redis, each test under its own key prefix and queue name (deleted afterwards). */
export function redisBackend(): LifecycleBackend {
  const url = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const prefixes = new Set<string>();
  return {
    label: "Redis",
    open(name) {
      const prefix = `troupe-inngest-test:${run}:${name}:`;
      prefixes.add(prefix);
      return {
        store: createRedisStore({ url, prefix }),
        queue: createRedisQueue({ url, prefix, queueName: `${run}-${name}`, clock: systemClock }),
        prefix: "inngest/",
        flowsPrefix: "flows/",
        closePorts: true,
      };
    },
    async cleanup() {
      for (const prefix of prefixes) {
        const store = createRedisStore({ url, prefix });
        try {
          for (;;) {
            const entries = await store.list({ limit: 500 });
            if (entries.length === 0) break;
            await store.commit(
              entries.map((entry) => ({ type: "delete", key: entry.key }) as const),
            );
          }
        } finally {
          await store.close();
        }
      }
    },
  };
}
