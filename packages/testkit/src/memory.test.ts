import {
  createMemoryPubSub,
  createMemoryQueue,
  createMemoryStore,
  createMemoryTransport,
} from "@troupe/core";
import { describePubSub, describeQueue, describeStore, describeTransport } from "./index.js";

// The in-memory implementations have no second connection, so there is no openPeer: the suites
// then use the main instance wherever they need a peer, and the tests that need two distinct
// handles (such as "closing one handle leaves the peer working") are not registered.
describeStore("memory", { create: () => createMemoryStore() });

describeQueue("memory", {
  create: (context) => createMemoryQueue({ clock: context.clock, queueName: context.id }),
});

describePubSub("memory", { create: () => createMemoryPubSub() });

describeTransport("memory", { create: () => createMemoryTransport() });
