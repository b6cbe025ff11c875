import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { fromUtf8, ManualClock, type Store, TroupeError, utf8 } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import {
  createRedisPubSub,
  createRedisQueue,
  createRedisStore,
  troupeRedisOptions,
} from "../src/index.js";
import { connectOrFail, deleteKeys, openAdminClient, redisUrl, testPrefix } from "./redis-env.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const tsxCli = createRequire(import.meta.url).resolve("tsx/cli");

let counter = 0;
const prefixes: string[] = [];
const cleanups: (() => Promise<void>)[] = [];
const unique = (what: string) => `${what}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
const freshPrefix = () => {
  const prefix = testPrefix(unique("stress"));
  prefixes.push(prefix);
  return prefix;
};

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  for (const prefix of prefixes.splice(0)) await deleteKeys(prefix);
});

interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly ready: Promise<void>;
  readonly result: Promise<unknown>;
}

/** Starts a fixture script in a child process (TypeScript through tsx, workspace sources). */
function startWorker(script: string, args: readonly string[]): Worker {
  const child = spawn(
    process.execPath,
    [tsxCli, "--conditions=source", `test/fixtures/${script}`, ...args],
    { cwd: packageDir, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    if (stdout.includes("ready\n")) markReady();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const result = new Promise<unknown>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      const line = stdout.split("\n").find((text) => text.startsWith("result "));
      if (code !== 0 || line === undefined) {
        reject(new Error(`${script} exited with code ${code}:\n${stderr}\n${stdout}`));
      } else {
        resolve(JSON.parse(line.slice("result ".length)));
      }
    });
  });
  // A worker that dies before "ready" must fail the test, not leave it waiting.
  const readyOrExit = Promise.race([ready, result.then(() => {})]);
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill();
  });
  return { child, ready: readyOrExit, result };
}

async function runTogether(workers: readonly Worker[]): Promise<unknown[]> {
  await Promise.all(workers.map((worker) => worker.ready));
  for (const worker of workers) worker.child.stdin.end("go\n");
  return Promise.all(workers.map((worker) => worker.result));
}

/** A client with a connection name of its own, so tests can find and kill exactly its connections. */
function namedClient(): { client: Redis; name: string } {
  const name = unique("troupe_kill");
  const client = new Redis(redisUrl, { ...troupeRedisOptions, connectionName: name });
  client.on("error", () => {
    // Expected while the tests kill this client's connections; operations report their own errors.
  });
  cleanups.push(async () => {
    client.disconnect();
  });
  return { client, name };
}

async function admin(): Promise<Redis> {
  const client = openAdminClient();
  await connectOrFail(client);
  cleanups.push(async () => {
    await client.quit();
  });
  return client;
}

interface ClientInfo {
  readonly id: string;
  readonly cmd: string;
  readonly subscriptions: number;
}

async function connectionsNamed(adminClient: Redis, name: string): Promise<ClientInfo[]> {
  const list = (await adminClient.client("LIST")) as string;
  return list
    .split("\n")
    .map((line) => Object.fromEntries(line.split(" ").map((field) => field.split("=", 2))))
    .filter((fields) => fields.name === name)
    .map((fields) => ({
      id: String(fields.id),
      cmd: String(fields.cmd),
      subscriptions: Number(fields.sub ?? 0),
    }));
}

async function kill(adminClient: Redis, id: string): Promise<void> {
  await adminClient.client("KILL", "ID", id);
}

async function caught(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/**
 * Runs `operation` while Redis holds write commands (CLIENT PAUSE WRITE, which also holds Lua
 * scripts), kills the named connection once the command is parked on the server, then resumes.
 * The command was sent and never answered: the exact "connection lost mid-operation" case.
 */
async function killMidOperation<T>(
  adminClient: Redis,
  name: string,
  operation: () => Promise<T>,
): Promise<PromiseSettledResult<T>> {
  await adminClient.client("PAUSE", 5000, "WRITE");
  try {
    const pending = operation();
    pending.catch(() => {});
    let target: ClientInfo | undefined;
    await waitFor(
      async () => {
        target = (await connectionsNamed(adminClient, name)).find((info) =>
          info.cmd.startsWith("eval"),
        );
        return target !== undefined;
      },
      { what: "the operation to be parked on the paused server" },
    );
    await kill(adminClient, (target as ClientInfo).id);
    await adminClient.client("UNPAUSE");
    const [settled] = await Promise.allSettled([pending]);
    return settled as PromiseSettledResult<T>;
  } finally {
    await adminClient.client("UNPAUSE");
  }
}

describe("redis store across processes", () => {
  it("two processes incrementing one key with guarded commits: every increment counted once", async () => {
    const prefix = freshPrefix();
    const perWorker = 150;
    const results = (await runTogether([
      startWorker("increment-worker.ts", [redisUrl, prefix, String(perWorker)]),
      startWorker("increment-worker.ts", [redisUrl, prefix, String(perWorker)]),
    ])) as { versions: number[]; conflicts: number }[];
    const store = createRedisStore({ url: redisUrl, prefix });
    try {
      const entry = await store.get("counter");
      expect(fromUtf8(entry?.value ?? new Uint8Array())).toBe(String(2 * perWorker));
      const versions = results.flatMap((result) => result.versions);
      expect(versions).toHaveLength(2 * perWorker);
      // Each version was won by exactly one commit.
      expect(new Set(versions).size).toBe(2 * perWorker);
      expect(entry?.version).toBe(Math.max(...versions));
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe("redis queue across processes", () => {
  it("two worker processes share one queue: no item held by two leases at once, none lost", async () => {
    const prefix = freshPrefix();
    const queueName = "shared";
    // Long enough that a worker stalled by a busy machine still acks in time; abandoned leases
    // lapse after it.
    const leaseMs = 1500;
    const queue = createRedisQueue({ url: redisUrl, prefix, queueName });
    const ids = Array.from({ length: 300 }, (_, index) => `job-${index}`);
    try {
      await queue.enqueueMany(
        ids.map((id, index) => ({ id, payload: utf8(id), priority: index % 3 })),
      );
      const results = (await runTogether([
        startWorker("claim-worker.ts", [redisUrl, prefix, queueName, String(leaseMs)]),
        startWorker("claim-worker.ts", [redisUrl, prefix, queueName, String(leaseMs)]),
      ])) as {
        leases: { id: string; attempts: number; claimedAt: number; leaseExpiresAt: number }[];
        acked: string[];
      }[];
      for (const result of results) expect(result.acked.length).toBeGreaterThan(0);
      // None lost, none acknowledged twice.
      const acked = results.flatMap((result) => result.acked);
      expect(acked).toHaveLength(ids.length);
      expect(new Set(acked)).toEqual(new Set(ids));
      // Every claim of an item started only after the previous lease on it had lapsed, and the
      // items whose first lease was abandoned were claimed exactly twice.
      const leases = results.flatMap((result) => result.leases);
      const byId = new Map<string, typeof leases>();
      for (const lease of leases) byId.set(lease.id, [...(byId.get(lease.id) ?? []), lease]);
      for (const id of ids) {
        const claims = (byId.get(id) ?? []).sort((a, b) => a.attempts - b.attempts);
        expect(claims.map((claim) => claim.attempts)).toEqual(id.endsWith("0") ? [1, 2] : [1]);
        for (let i = 1; i < claims.length; i++) {
          expect(claims[i]?.claimedAt).toBeGreaterThanOrEqual(claims[i - 1]?.leaseExpiresAt ?? 0);
        }
      }
      expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
    } finally {
      await queue.close();
    }
  }, 60_000);
});

describe("connection killed mid-operation (CLIENT KILL)", () => {
  it("a commit in flight fails with UNAVAILABLE, applies nothing, and the store reconnects", async () => {
    const adminClient = await admin();
    const { client, name } = namedClient();
    const store = createRedisStore({ client, prefix: freshPrefix() });
    const first = await store.commit([{ type: "set", key: "a", value: utf8("1") }]);
    const settled = await killMidOperation(adminClient, name, () =>
      store.commit([
        { type: "set", key: "a", value: utf8("2"), expect: first.version },
        { type: "set", key: "b", value: utf8("2") },
      ]),
    );
    expect(settled.status).toBe("rejected");
    const error = (settled as PromiseRejectedResult).reason;
    expect(TroupeError.isInstance(error, "UNAVAILABLE"), String(error)).toBe(true);
    expect((error as TroupeError).cause).toBeInstanceOf(Error);
    // The killed command never ran: nothing of it is visible.
    expect(fromUtf8((await store.get("a"))?.value ?? new Uint8Array())).toBe("1");
    expect(await store.get("b")).toBeUndefined();
    const next = await store.commit([{ type: "set", key: "b", value: utf8("3") }]);
    expect(next.version).toBeGreaterThan(first.version);
  });

  it("a read in flight is sent again after the reconnect and succeeds", async () => {
    const adminClient = await admin();
    const { client, name } = namedClient();
    const store = createRedisStore({ client, prefix: freshPrefix() });
    await store.commit([{ type: "set", key: "a", value: utf8("kept") }]);
    const settled = await killMidOperation(adminClient, name, () => store.get("a"));
    expect(settled.status).toBe("fulfilled");
    const entry = (settled as PromiseFulfilledResult<Awaited<ReturnType<Store["get"]>>>).value;
    expect(fromUtf8(entry?.value ?? new Uint8Array())).toBe("kept");
  });

  it("a claim in flight fails with UNAVAILABLE and leaves the item claimable", async () => {
    const adminClient = await admin();
    const { client, name } = namedClient();
    const clock = new ManualClock();
    const queue = createRedisQueue({ client, prefix: freshPrefix(), queueName: "killed", clock });
    await queue.enqueue({ id: "job", payload: utf8("x") });
    const settled = await killMidOperation(adminClient, name, () =>
      queue.claim({ limit: 1, leaseMs: 60_000 }),
    );
    expect(settled.status).toBe("rejected");
    expect(TroupeError.isInstance((settled as PromiseRejectedResult).reason, "UNAVAILABLE")).toBe(
      true,
    );
    expect(await queue.get("job")).toMatchObject({ state: "waiting", attempts: 0 });
    const [lease] = await queue.claim({ limit: 1, leaseMs: 60_000 });
    expect(lease).toMatchObject({ id: "job", attempts: 1 });
  });

  it("two-key commits under repeated kills: never half-applied, every success counted", async () => {
    const adminClient = await admin();
    const { client, name } = namedClient();
    const store = createRedisStore({ client, prefix: freshPrefix() });
    await store.commit([
      { type: "set", key: "a", value: utf8("0") },
      { type: "set", key: "b", value: utf8("0") },
    ]);
    let stop = false;
    let kills = 0;
    const killer = (async () => {
      while (!stop) {
        await new Promise((resolve) => setTimeout(resolve, 15));
        for (const info of await connectionsNamed(adminClient, name)) {
          await kill(adminClient, info.id).catch(() => {});
          kills++;
        }
      }
    })();
    let succeeded = 0;
    let unavailable = 0;
    const deadline = performance.now() + 1500;
    while (performance.now() < deadline) {
      const error = await caught(async () => {
        const [a] = await store.getMany(["a", "b"]);
        const next = String(Number(fromUtf8(a?.value ?? utf8("0"))) + 1);
        await store.commit([
          { type: "set", key: "a", value: utf8(next), expect: a?.version ?? "absent" },
          { type: "set", key: "b", value: utf8(next) },
        ]);
      });
      if (error === undefined) succeeded++;
      else if (TroupeError.isInstance(error, "UNAVAILABLE")) unavailable++;
      else throw error;
    }
    stop = true;
    await killer;
    const [a, b] = await store.getMany(["a", "b"]);
    expect(kills).toBeGreaterThan(0);
    expect(succeeded).toBeGreaterThan(0);
    // Both keys always move together, and no success is missing.
    expect(a?.version).toBe(b?.version);
    expect(fromUtf8(a?.value ?? new Uint8Array())).toBe(fromUtf8(b?.value ?? new Uint8Array()));
    const final = Number(fromUtf8(a?.value ?? new Uint8Array()));
    expect(final).toBeGreaterThanOrEqual(succeeded);
    expect(final).toBeLessThanOrEqual(succeeded + unavailable);
  }, 30_000);

  it("a subscriber whose connection is killed subscribes again and receives later messages", async () => {
    const adminClient = await admin();
    const { client, name } = namedClient();
    const pubsub = createRedisPubSub({ client, prefix: freshPrefix() });
    cleanups.push(() => pubsub.close());
    const received: string[] = [];
    await pubsub.subscribe("wake", (message) => {
      received.push(fromUtf8(message));
    });
    const subscribers = (await connectionsNamed(adminClient, name)).filter(
      (info) => info.subscriptions > 0,
    );
    expect(subscribers).toHaveLength(1);
    await kill(adminClient, (subscribers[0] as ClientInfo).id);
    let sent = 0;
    await waitFor(
      async () => {
        await pubsub.publish("wake", utf8(`after kill ${sent++}`));
        return received.some((message) => message.startsWith("after kill"));
      },
      { timeoutMs: 10_000, what: "a message after the subscriber reconnected" },
    );
    const again = (await connectionsNamed(adminClient, name)).filter(
      (info) => info.subscriptions > 0,
    );
    expect(again).toHaveLength(1);
    expect(again[0]?.id).not.toBe(subscribers[0]?.id);
  });
});
