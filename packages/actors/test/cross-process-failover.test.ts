import type { ChildProcess } from "node:child_process";
import { createMemoryQueue, systemClock, TroupeError } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClusterNode } from "../src/cluster/index.js";
import { createActorSystem } from "../src/index.js";
import { kill, startNode } from "./cluster-support/node-process.js";
import { Counter } from "./cluster-worker/counter.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const LEASE_MS = 3000;
const CALL_TIMEOUT_MS = 30_000; // Counter's, the default

const schemas = scratchSchemas("actors_xpf", { from: import.meta.url });
const children = new Set<ChildProcess>();
beforeAll(() => schemas.assertReachable());
afterAll(async () => {
  await Promise.all([...children].map((child) => kill(child)));
  await schemas.dropAll();
});

describe("a call in flight to a SIGKILLed node (PostgreSQL and NATS)", () => {
  it("fails with OUTCOME_UNKNOWN once the node's lease lapses, not after the call timeout", async () => {
    const schema = schemas.fresh();
    const subjectPrefix = `troupe_test.actors_xpf_${process.pid}_${Date.now().toString(36)}`;
    const ids = ["xpf-1", "xpf-2"];
    const nodes = await Promise.all(
      ids.map((id) =>
        startNode([id, postgresUrl, schema, NATS_URL, subjectPrefix, String(LEASE_MS)], children),
      ),
    );
    const store = createPostgresStore({ connectionString: postgresUrl, schema });
    const transport = createNatsTransport({ servers: NATS_URL, subjectPrefix });
    const client = createClusterNode({
      store,
      transport,
      nodeId: "xpf-client",
      capabilities: [],
      leaseMs: LEASE_MS,
      heartbeatMs: LEASE_MS / 4,
    });
    const system = createActorSystem({
      store,
      queue: createMemoryQueue({ queueName: "actors-xpf-client", clock: systemClock }),
      actors: [Counter],
      nodeId: "xpf-client",
      directory: client.directory,
      remoting: client.remoting,
    });
    await client.join();
    try {
      const counter = system.get(Counter, "h");
      expect(await counter.increment(1)).toBe(1);
      const entry = await store.get("actors/d/Counter/h");
      const owner = JSON.parse(new TextDecoder().decode(entry?.value)).nodeId as string;
      const victim = nodes[ids.indexOf(owner)] as ChildProcess;

      // A call that is running on the owner when the owner is killed: the request was delivered,
      // so the Transport reports nothing; only the owner's lapsed lease tells that it died.
      const hanging = counter.hang().catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await kill(victim);
      const killedAt = Date.now();
      const error = await hanging;
      const failedAfterMs = Date.now() - killedAt;

      expect(TroupeError.isInstance(error, "OUTCOME_UNKNOWN")).toBe(true);
      expect(failedAfterMs).toBeLessThan(CALL_TIMEOUT_MS / 2);
      // The caller retries its write: the actor answers from another node with its saved state.
      let count: number | undefined;
      for (let attempt = 0; count === undefined; attempt++) {
        try {
          count = await counter.increment(1);
        } catch (retried) {
          if (!TroupeError.isInstance(retried, "UNAVAILABLE") || attempt > 100) throw retried;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      expect(count).toBe(2);
      console.log(
        `cross-process failover: a call in flight to SIGKILLed ${owner} failed OUTCOME_UNKNOWN ${failedAfterMs} ms after the kill (lease ${LEASE_MS} ms, call timeout ${CALL_TIMEOUT_MS} ms)`,
      );
    } finally {
      await system.close();
      await client.close();
      await transport.close();
      await Promise.all(nodes.map((node) => kill(node, "SIGTERM")));
      await store.close();
    }
  }, 60_000);
});
