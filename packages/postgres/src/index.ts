export {
  createPostgresPubSub,
  POSTGRES_MAX_MESSAGE_BYTES,
  type PostgresPubSubOptions,
} from "./postgres-pubsub.js";
export {
  createPostgresQueue,
  type PostgresQueue,
  type PostgresQueueOptions,
} from "./postgres-queue.js";
export { createPostgresStore, type PostgresStoreOptions } from "./postgres-store.js";
