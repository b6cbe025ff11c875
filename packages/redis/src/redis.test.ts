import { describePubSub, describeQueue, describeStore, type SuiteContext } from "@troupe/testkit";
import { deleteKeys, redisUrl, testPrefix } from "../test/redis-env.js";
import { createRedisPubSub } from "./redis-pubsub.js";
import { createRedisQueue } from "./redis-queue.js";
import { createRedisStore } from "./redis-store.js";

// Every test gets its own key prefix from context.id, so tests (and other runs sharing this
// Redis) never see each other's keys; destroy deletes that prefix. When Redis is unreachable,
// every operation fails with UNAVAILABLE, so the suites fail rather than skip.
const store = (context: SuiteContext) =>
  createRedisStore({ url: redisUrl, prefix: testPrefix(context.id) });
const queue = (context: SuiteContext) =>
  createRedisQueue({
    url: redisUrl,
    prefix: testPrefix(context.id),
    queueName: `q_${context.id}`,
    clock: context.clock,
  });
const pubsub = (context: SuiteContext) =>
  createRedisPubSub({ url: redisUrl, prefix: testPrefix(context.id) });
const destroy = async (context: SuiteContext) => {
  await deleteKeys(testPrefix(context.id));
};

describeStore("redis", { create: store, openPeer: store, reopen: store, destroy });
describeQueue("redis", { create: queue, openPeer: queue, reopen: queue, destroy });
describePubSub("redis", { create: pubsub, openPeer: pubsub, destroy });
