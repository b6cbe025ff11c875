import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineActor } from "@troupe/actors";
import { noopLogger, ulid } from "@troupe/core";
import { Etcd3 } from "etcd3";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

// Real NATS, etcd and PostgreSQL servers; the tests fail, not skip, when one is down.
const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const ETCD_URL = process.env.TROUPE_TEST_ETCD_URL ?? "etcd://127.0.0.1:2379";
const POSTGRES_URL =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => (ctx.state.count += by),
  },
});

const scratch: string[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function node(
  storageUrl: string,
  nodeId: string,
  subjectPrefix: string,
  extra: { schema?: string; directoryUrl?: string; directoryPrefix?: string } = {},
) {
  const { schema, ...directory } = extra;
  const runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: storageUrl, ...(schema ? { schema } : {}) },
      server: { port: 0 },
    }),
    {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      actors: {
        definitions: [Counter],
        nodeId,
        cluster: { transportUrl: NATS_URL, subjectPrefix, leaseMs: 5000, ...directory },
      },
    },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return { runtime, url };
}

async function post(url: string, route: string, body: unknown) {
  const response = await fetch(`${url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

describe("actors in cluster mode (NATS transport, shared SQLite store)", () => {
  it("refuses to start when NATS cannot be reached, naming the URL", async () => {
    const runtime = createRuntime(
      parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 } }),
      {
        logger: noopLogger,
        inngest: false,
        dashboardDir: false,
        actors: {
          definitions: [Counter],
          nodeId: "lonely",
          cluster: { transportUrl: "nats://127.0.0.1:1" },
        },
      },
    );
    runtimes.push(runtime);
    await expect(runtime.start()).rejects.toThrow(/nats:\/\/127\.0\.0\.1:1/);
    expect(runtime.actors).toBeUndefined();
  });

  it("two runtimes serve one counter: 100 increments through both give 100, and it moves on stop", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-actors-cluster-"));
    scratch.push(dir);
    const storageUrl = `sqlite:${path.join(dir, "troupe.db")}`;
    const prefix = `t${ulid().toLowerCase()}`;
    const a = await node(storageUrl, "node-a", prefix);
    const b = await node(storageUrl, "node-b", prefix);

    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        post(i % 2 === 0 ? a.url : b.url, "/actors/Counter/shared/increment", { args: [1] }),
      ),
    );
    expect(replies.map((reply) => reply.status)).toEqual(Array(100).fill(200));
    const results = replies.map((reply) => (reply.body as { result: number }).result);
    expect([...results].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    // Exactly one node holds the activation.
    const holders = [a, b].filter((n) =>
      n.runtime.actors?.isActive({ type: "Counter", key: "shared" }),
    );
    expect(holders).toHaveLength(1);

    // The owner shuts down gracefully (saves, releases its claim); the other node takes over.
    const owner = holders[0] === a ? a : b;
    const other = owner === a ? b : a;
    await owner.runtime.stop();
    expect(await post(other.url, "/actors/Counter/shared/increment", { args: [1] })).toEqual({
      status: 200,
      body: { result: 101 },
    });
    expect(other.runtime.actors?.isActive({ type: "Counter", key: "shared" })).toBe(true);
  });

  it("keeps the cluster's directory on etcd and the states on PostgreSQL: 100 increments give 100", async () => {
    const prefix = `t${ulid().toLowerCase()}`;
    const schema = `troupe_rt_split_${prefix}`;
    const extra = { schema, directoryUrl: ETCD_URL, directoryPrefix: `troupe-test/${prefix}/` };
    try {
      const a = await node(POSTGRES_URL, "node-a", prefix, extra);
      const b = await node(POSTGRES_URL, "node-b", prefix, extra);
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          post(i % 2 === 0 ? a.url : b.url, "/actors/Counter/split/increment", { args: [1] }),
        ),
      );
      expect(replies.map((reply) => reply.status)).toEqual(Array(100).fill(200));
      const results = replies.map((reply) => (reply.body as { result: number }).result);
      expect([...results].sort((x, y) => x - y)).toEqual(
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      const holders = [a, b].filter((n) =>
        n.runtime.actors?.isActive({ type: "Counter", key: "split" }),
      );
      expect(holders).toHaveLength(1);
      // The claims are on etcd (the node leases and the directory entry), not in PostgreSQL.
      const etcd = new Etcd3({ hosts: ETCD_URL.replace(/^etcd:/, "http:") });
      try {
        const keys = await etcd.getAll().prefix(`troupe-test/${prefix}/`).keys();
        expect(keys.some((key) => key.includes("Counter"))).toBe(true);
      } finally {
        await etcd.delete().prefix(`troupe-test/${prefix}/`);
        etcd.close();
      }
    } finally {
      await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });
});
