import {
  describePubSub,
  describeQueue,
  describeStore,
  describeStorePairing,
  type SuiteContext,
} from "@troupe/testkit";
import { afterAll, beforeAll } from "vitest";
import { assertReachable, dropSchema, openAdminPool, postgresUrl } from "../test/support.js";
import { createPostgresPubSub, POSTGRES_MAX_MESSAGE_BYTES } from "./postgres-pubsub.js";
import { createPostgresQueue } from "./postgres-queue.js";
import { createPostgresStore } from "./postgres-store.js";

// Every test gets its own schema named after the test, so runs sharing the server never meet.
const admin = openAdminPool();
beforeAll(() => assertReachable(admin));
afterAll(() => admin.end());
const destroy = (context: SuiteContext) => dropSchema(admin, context.id);

const openStore = (context: SuiteContext) =>
  createPostgresStore({ connectionString: postgresUrl, schema: context.id });

describeStore("postgres", { create: openStore, openPeer: openStore, reopen: openStore, destroy });

const openQueue = (context: SuiteContext) =>
  createPostgresQueue({
    connectionString: postgresUrl,
    schema: context.id,
    queueName: context.id,
    clock: context.clock,
  });

describeQueue("postgres", { create: openQueue, openPeer: openQueue, reopen: openQueue, destroy });

describeStorePairing("postgres", {
  create: (context) => ({ store: openStore(context), queue: openQueue(context) }),
  // Same database, another schema: a store the queue must not pair with.
  createUnpaired: (context) =>
    createPostgresStore({ connectionString: postgresUrl, schema: `${context.id}_other` }),
  destroy: async (context) => {
    await dropSchema(admin, context.id);
    await dropSchema(admin, `${context.id}_other`);
  },
});

const openPubSub = () =>
  createPostgresPubSub({ connectionString: postgresUrl, channelPrefix: "troupe_test:" });

describePubSub("postgres", {
  create: openPubSub,
  openPeer: openPubSub,
  capabilities: { maxMessageBytes: POSTGRES_MAX_MESSAGE_BYTES },
});
