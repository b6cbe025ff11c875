export {
  openSqliteDatabase,
  type SqliteConnectionOptions,
  type SqliteDatabase,
  type SqliteDatabaseOptions,
  type SqliteDriverName,
  type SqliteSynchronous,
} from "./database.js";
export { SCHEMA_VERSION } from "./schema.js";
export { createSqlitePubSub, type SqlitePubSubOptions } from "./sqlite-pubsub.js";
export { createSqliteQueue, type SqliteQueueOptions } from "./sqlite-queue.js";
export { createSqliteStore, type SqliteStoreOptions } from "./sqlite-store.js";
