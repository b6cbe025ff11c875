import { createRequire } from "node:module";
import { createActorSystem, createClusterNode } from "@troupe/actors";
import { createNatsPubSub, createNatsTransport } from "@troupe/nats";
import { createPostgresQueue, createPostgresStore } from "@troupe/postgres";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRespServer } from "../src/index.js";
import { TestKey } from "./support.js";

const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

// `pg` comes with @troupe/postgres; the test only needs it to drop its scratch schema.
const { Pool } = createRequire(import.meta.resolve("@troupe/postgres"))("pg") as {
  Pool: new (config: {
    connectionString: string;
  }) => {
    query(sql: string): Promise<unknown>;
    end(): Promise<void>;
  };
};
const admin = new Pool({ connectionString: postgresUrl });
const schema = `troupe_resp_cluster_${process.pid}_${Date.now().toString(36)}`;
const subjectPrefix = `resp${process.pid}${Date.now().toString(36)}`;

beforeAll(async () => {
  try {
    await admin.query("SELECT 1");
  } catch (error) {
    throw new Error(`PostgreSQL is unreachable at ${postgresUrl} (TROUPE_TEST_POSTGRES_URL)`, {
      cause: error,
    });
  }
});
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
});

/** One node: its own pool, NATS connections, cluster node, actor system and RESP server. */
async function startNode(nodeId: string) {
  const store = createPostgresStore({ connectionString: postgresUrl, schema });
  const queue = createPostgresQueue({
    connectionString: postgresUrl,
    schema,
    queueName: `${nodeId}.actors`,
  });
  const transport = createNatsTransport({ servers: natsUrl, subjectPrefix });
  const pubsub = createNatsPubSub({ servers: natsUrl, subjectPrefix });
  const node = createClusterNode({ store, transport, nodeId, capabilities: [TestKey] });
  const system = createActorSystem({
    store,
    queue,
    actors: [TestKey],
    nodeId,
    directory: node.directory,
    remoting: node.remoting,
  });
  await node.join();
  const server = createRespServer({ system, store, pubsub, keyActor: TestKey });
  const port = await server.listen(0);
  return {
    port,
    system,
    async close() {
      await server.close();
      await system.close();
      await pubsub.close();
      await transport.close();
      await queue.close();
      await store.close();
    },
  };
}

describe("RESP servers on a two-node cluster (PostgreSQL + NATS)", () => {
  it("reads through one node what was written through the other, and fans pub/sub out", async () => {
    const a = await startNode("resp-a");
    const b = await startNode("resp-b");
    const viaA = new Redis({ port: a.port });
    const viaB = new Redis({ port: b.port });
    const subscriber = new Redis({ port: b.port });
    try {
      for (let index = 0; index < 20; index++) {
        expect(await viaA.set(`c:${index}`, `v${index}`)).toBe("OK");
      }
      await viaA.hset("c:h", "f", "1");
      for (let index = 0; index < 20; index++) {
        expect(await viaB.get(`c:${index}`)).toBe(`v${index}`);
      }
      expect(await viaB.hincrby("c:h", "f", 2)).toBe(3);
      expect(await viaA.hget("c:h", "f")).toBe("3");
      // Both nodes host some of the keys: the placement spreads the actors.
      const active = a.system.activationCount() + b.system.activationCount();
      expect(active).toBe(21);
      expect(Math.min(a.system.activationCount(), b.system.activationCount())).toBeGreaterThan(0);

      const received: string[] = [];
      subscriber.on("message", (channel, message) => received.push(`${channel}:${message}`));
      await subscriber.subscribe("cluster news");
      await viaA.publish("cluster news", "hello from a");
      await expect.poll(() => received).toEqual(["cluster news:hello from a"]);
    } finally {
      viaA.disconnect();
      viaB.disconnect();
      subscriber.disconnect();
      await a.close();
      await b.close();
    }
  });
});
