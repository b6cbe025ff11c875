import { connect } from "@nats-io/transport-node";
import { describePubSub, describeTransport, type SuiteContext } from "@troupe/testkit";
import { createNatsPubSub } from "./nats-pubsub.js";
import { createNatsTransport } from "./nats-transport.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/**
 * The server's max_payload, read before the suites are registered because the PubSub suite takes
 * it as a capability. An unreachable server fails this file (it must never be skipped).
 */
async function readMaxPayload(): Promise<number> {
  let connection: Awaited<ReturnType<typeof connect>>;
  try {
    connection = await connect({ servers: NATS_URL });
  } catch (error) {
    throw new Error(
      `NATS is not reachable at ${NATS_URL} (set TROUPE_TEST_NATS_URL): ${String(error)}`,
    );
  }
  const maxPayload = connection.info?.max_payload;
  await connection.close();
  if (maxPayload === undefined) throw new Error(`NATS at ${NATS_URL} sent no max_payload`);
  return maxPayload;
}
const maxMessageBytes = await readMaxPayload();

// Every test gets its own subject prefix, so runs sharing the server never see each other.
const transportOptions = (context: SuiteContext) => ({
  servers: NATS_URL,
  subjectPrefix: `troupe_test.${context.id}`,
  // The suite leaves handlers that never answer; do not let each close wait 2 s for them.
  drainTimeoutMs: 100,
});
const pubSubOptions = (context: SuiteContext) => ({
  servers: NATS_URL,
  subjectPrefix: `troupe_test.${context.id}`,
});

describeTransport("nats", {
  create: (context) => createNatsTransport(transportOptions(context)),
  // A second connection: as another process would be.
  openPeer: (context) => createNatsTransport(transportOptions(context)),
});

describePubSub("nats", {
  create: (context) => createNatsPubSub(pubSubOptions(context)),
  openPeer: (context) => createNatsPubSub(pubSubOptions(context)),
  capabilities: { maxMessageBytes },
});
