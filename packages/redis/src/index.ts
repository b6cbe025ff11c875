export { type RedisConnectionOptions, troupeRedisOptions } from "./connection.js";
export { createRedisPubSub, type RedisPubSubOptions } from "./redis-pubsub.js";
export {
  createRedisQueue,
  type RedisQueueKeys,
  type RedisQueueOptions,
  redisQueueKeys,
} from "./redis-queue.js";
export {
  createRedisStore,
  type RedisStoreKeys,
  type RedisStoreOptions,
  redisStoreKeys,
} from "./redis-store.js";
