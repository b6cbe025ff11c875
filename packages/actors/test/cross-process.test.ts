import type { ChildProcess } from "node:child_process";
import { createMemoryQueue, systemClock, type Transport, TroupeError } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClusterNode } from "../src/cluster/index.js";
import { createActorSystem } from "../src/index.js";
import { kill, startNode as startWorker } from "./cluster-support/node-process.js";
import { Counter } from "./cluster-worker/counter.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
// Short enough to keep the test quick, long enough that a loaded CI machine (Postgres, NATS and
// four Node processes on two cores) renews leases in time.
const LEASE_MS = 3000;
const ACTORS = 30;

const schemas = scratchSchemas("actors_xp", { from: import.meta.url });
const children = new Set<ChildProcess>();
beforeAll(() => schemas.assertReachable());
afterAll(async () => {
  await Promise.all([...children].map((child) => kill(child)));
  await schemas.dropAll();
});

const startNode = (args: readonly string[]) => startWorker(args, children);

/** Resolves once the Transport reports that nobody serves `nodeId` any more. */
async function untilUnserved(transport: Transport, nodeId: string): Promise<void> {
  for (;;) {
    try {
      await transport.request("xp-probe", nodeId, new Uint8Array(), { timeoutMs: 200 });
    } catch (error) {
      if (TroupeError.isInstance(error, "UNKNOWN_NODE")) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("three node processes on PostgreSQL and NATS", () => {
  it("brings a SIGKILLed node's actors back on another node with their state", async () => {
    const schema = schemas.fresh();
    const subjectPrefix = `troupe_test.actors_xp_${process.pid}_${Date.now().toString(36)}`;
    const ids = ["xp-1", "xp-2", "xp-3"];
    const nodes = await Promise.all(
      ids.map((id) =>
        startNode([id, postgresUrl, schema, NATS_URL, subjectPrefix, String(LEASE_MS)]),
      ),
    );

    // This process joins as a client-only node (it hosts no actor type).
    const store = createPostgresStore({ connectionString: postgresUrl, schema });
    const transport = createNatsTransport({ servers: NATS_URL, subjectPrefix });
    const client = createClusterNode({
      store,
      transport,
      nodeId: "xp-client",
      capabilities: [],
      leaseMs: LEASE_MS,
      heartbeatMs: LEASE_MS / 4,
    });
    const system = createActorSystem({
      store,
      queue: createMemoryQueue({ queueName: "actors-xp-client", clock: systemClock }),
      actors: [Counter],
      nodeId: "xp-client",
      directory: client.directory,
      remoting: client.remoting,
    });
    await client.join();
    try {
      const keys = Array.from({ length: ACTORS }, (_, i) => `k${i}`);
      const expected = new Map(keys.map((key) => [key, 0]));
      for (let round = 0; round < 3; round++) {
        await Promise.all(
          keys.map(async (key, i) => {
            expected.set(key, await system.get(Counter, key).increment(i + 1));
          }),
        );
      }
      for (const [i, key] of keys.entries()) expect(expected.get(key)).toBe(3 * (i + 1));

      const owners = async () => {
        const map = new Map<string, string>();
        for (const key of keys) {
          const entry = await store.get(`actors/d/Counter/${key}`);
          if (entry) map.set(key, JSON.parse(new TextDecoder().decode(entry.value)).nodeId);
        }
        return map;
      };
      const before = await owners();
      const perNode = ids.map((id) => keys.filter((key) => before.get(key) === id));
      const victimIndex = perNode.reduce(
        (best, list, index) => (list.length > (perNode[best]?.length ?? 0) ? index : best),
        0,
      );
      const victim = ids[victimIndex] as string;
      const orphaned = perNode[victimIndex] ?? [];
      expect(orphaned.length).toBeGreaterThan(0);

      await kill(nodes[victimIndex] as ChildProcess);
      const killedAt = Date.now();
      // NATS still delivers requests to a killed process's subscription until the server has
      // processed the closed connection (on a loaded machine, a moment after the process is
      // gone); a call delivered there gets no answer, and its caller cannot tell it never ran
      // (OUTCOME_UNKNOWN once the lease lapses). Wait until NATS answers "nobody listens", so
      // every call below is one that either runs or is known not to have run.
      await untilUnserved(transport, victim);

      // Every actor answers again: the orphans once the victim's lease lapsed. Only calls known
      // not to have taken effect are retried (UNKNOWN_NODE: nobody listens; UNAVAILABLE: no
      // node took it; LEASE_LOST: its write was fenced off), so no increment can count twice.
      const retried = new Map<string, number>();
      await Promise.all(
        keys.map(async (key) => {
          for (;;) {
            try {
              expected.set(key, await system.get(Counter, key).increment(1));
              return;
            } catch (error) {
              const retry = ["UNKNOWN_NODE", "UNAVAILABLE", "LEASE_LOST"].some((code) =>
                TroupeError.isInstance(error, code),
              );
              if (!retry || Date.now() - killedAt > 20_000) {
                throw new Error(`actor ${key}: ${(error as Error).message}`, { cause: error });
              }
              const code = (error as TroupeError).code;
              retried.set(code, (retried.get(code) ?? 0) + 1);
              await new Promise((resolve) => setTimeout(resolve, 100));
            }
          }
        }),
      );
      for (const [i, key] of keys.entries()) expect(expected.get(key)).toBe(3 * (i + 1) + 1);
      const recoveredAfterMs = Date.now() - killedAt;

      const after = await owners();
      for (const key of orphaned) {
        expect(after.get(key)).toBeDefined();
        expect(after.get(key)).not.toBe(victim);
      }
      console.log(
        `cross-process: killed ${victim} holding ${orphaned.length} of ${ACTORS} actors; all answered again with their state ${recoveredAfterMs} ms later (lease ${LEASE_MS} ms; retried calls: ${JSON.stringify(Object.fromEntries(retried))})`,
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
