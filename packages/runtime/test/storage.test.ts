import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fromUtf8, TroupeError, ulid, utf8 } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { type AdapterImporter, importAdapter } from "../src/adapter-loader.js";
import { openStorage, type RuntimeStorage, redactUrl, storageKind } from "../src/storage.js";

const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Proves the three ports work end to end and leaves nothing behind. */
async function roundTrip(storage: RuntimeStorage): Promise<void> {
  const key = `runtime-test/${ulid()}`;
  const { version } = await storage.store.commit([
    { type: "set", key, value: utf8("hello"), expect: "absent" },
  ]);
  expect(fromUtf8((await storage.store.get(key))?.value ?? new Uint8Array())).toBe("hello");
  await storage.store.commit([{ type: "delete", key, expect: version }]);

  const { id } = await storage.queue.enqueue({ payload: utf8("job") });
  const leases = await storage.queue.claim({ limit: 10, leaseMs: 30_000 });
  const lease = leases.find((candidate) => candidate.id === id);
  expect(lease && fromUtf8(lease.payload)).toBe("job");
  for (const held of leases) await storage.queue.ack(held);

  const channel = `runtime-test.${ulid()}`;
  const received = new Promise<string>((resolve) => {
    void storage.pubsub
      .subscribe(channel, (message) => resolve(fromUtf8(message)))
      .then(() => storage.pubsub.publish(channel, utf8("ping")));
  });
  expect(await received).toBe("ping");
}

describe("openStorage chooses adapters by URL", () => {
  it("sqlite:<path> creates the folder and the file, and keeps data across reopen", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-runtime-storage-"));
    scratch.push(dir);
    const file = path.join(dir, "nested", "deeper", "troupe.db");
    const storage = openStorage({ url: `sqlite:${file}`, queueName: ulid() });
    expect(storage.kind).toBe("sqlite");
    await roundTrip(storage);
    await storage.store.commit([{ type: "set", key: "kept", value: utf8("yes") }]);
    await storage.close();
    expect(existsSync(file)).toBe(true);
    const reopened = openStorage({ url: `sqlite://${file}` });
    expect(fromUtf8((await reopened.store.get("kept"))?.value ?? new Uint8Array())).toBe("yes");
    await reopened.close();
  });

  it("sqlite::memory: and memory: need no file", async () => {
    for (const url of ["sqlite::memory:", "memory:"]) {
      const storage = openStorage({ url });
      expect(storage.kind).toBe(url === "memory:" ? "memory" : "sqlite");
      await roundTrip(storage);
      await storage.close();
    }
  });

  it("postgres:// and postgresql:// open the PostgreSQL adapters (TROUPE_TEST_POSTGRES_URL)", async () => {
    for (const url of [postgresUrl, postgresUrl.replace(/^postgres(ql)?:/, "postgresql:")]) {
      const storage = openStorage({ url, schema: "troupe_runtime_test", queueName: ulid() });
      expect(storage.kind).toBe("postgres");
      await roundTrip(storage);
      await storage.close();
    }
  });

  it("on PostgreSQL the queue commits a store's operations and its items together, even before the adapter loaded", async () => {
    const storage = openStorage({
      url: postgresUrl,
      schema: "troupe_runtime_test",
      queueName: ulid(),
    });
    try {
      // Asked at once, the way the flows engine asks when it is created.
      const queue = storage.queue as typeof storage.queue & {
        pairsWith(store: unknown): boolean;
        commitWithStore(
          ops: readonly { type: "set"; key: string; value: Uint8Array; expect?: "absent" }[],
          items: readonly { id: string; payload: Uint8Array }[],
        ): Promise<unknown>;
      };
      expect(queue.pairsWith(storage.store)).toBe(true);
      const key = `runtime-test/${ulid()}`;
      const id = ulid();
      await queue.commitWithStore(
        [{ type: "set", key, value: utf8("a"), expect: "absent" }],
        [{ id, payload: utf8("item") }],
      );
      expect(fromUtf8((await storage.store.get(key))?.value ?? new Uint8Array())).toBe("a");
      expect(await storage.queue.get(id)).toBeDefined();
      // A failed guard applies neither the write nor the item.
      const second = ulid();
      await expect(
        queue.commitWithStore(
          [{ type: "set", key, value: utf8("b"), expect: "absent" }],
          [{ id: second, payload: utf8("item") }],
        ),
      ).rejects.toSatisfy((error) => TroupeError.isInstance(error, "STORE_CONFLICT"));
      expect(await storage.queue.get(second)).toBeUndefined();
      await storage.store.commit([{ type: "delete", key }]);
      await storage.queue.remove(id);
    } finally {
      await storage.close();
    }
  });

  it("redis:// opens the Redis adapters (TROUPE_TEST_REDIS_URL)", async () => {
    const storage = openStorage({
      url: redisUrl,
      prefix: `troupe_runtime_test:${ulid()}:`,
      queueName: ulid(),
    });
    expect(storage.kind).toBe("redis");
    await roundTrip(storage);
    await storage.close();
  });

  it("rejects an unknown scheme naming storage.url and the schemes it knows", () => {
    expect(() => storageKind("mysql://user:pw@db/troupe")).toThrow(
      /^storage\.url: unknown scheme "mysql:" in "mysql:\/\/user:\*\*\*@db\/troupe"; expected sqlite:<path>/,
    );
    expect(() => openStorage({ url: "./troupe.db" })).toThrow(/^storage\.url: no scheme/);
    expect(() => openStorage({ url: "sqlite:" })).toThrow(/^storage\.url: expected a path/);
  });

  it("hides passwords in the URL it shows", () => {
    expect(redactUrl("postgres://troupe:s3cret@db:5432/app")).toBe(
      "postgres://troupe:***@db:5432/app",
    );
    expect(redactUrl("redis://:s3cret@cache:6379")).toBe("redis://:***@cache:6379");
    expect(redactUrl("sqlite:./.troupe/troupe.db")).toBe("sqlite:./.troupe/troupe.db");
  });
});

describe("openStorage loads only the adapter its URL names", () => {
  it("imports one package per URL kind, and none for memory:", async () => {
    const cases: [string, string[]][] = [
      ["memory:", []],
      ["sqlite::memory:", ["@troupe/sqlite"]],
      [postgresUrl, ["@troupe/postgres"]],
      [redisUrl, ["@troupe/redis"]],
    ];
    for (const [url, expected] of cases) {
      const imported: string[] = [];
      const importer: AdapterImporter = (name) => {
        imported.push(name);
        return importAdapter(name);
      };
      const storage = openStorage({ url, importer, queueName: ulid() });
      await storage.ready();
      expect(imported, url).toEqual(expected);
      await storage.close();
    }
  });

  it("without the package, ready() and every port call reject naming it; close() still works", async () => {
    const importer: AdapterImporter = async (name) => {
      throw Object.assign(new Error(`Cannot find package '${name}' imported from /app/x.js`), {
        code: "ERR_MODULE_NOT_FOUND",
      });
    };
    const storage = openStorage({ url: postgresUrl, importer });
    const install = /^install @troupe\/postgres to use postgres:\/\/ URLs/;
    await expect(storage.ready()).rejects.toThrow(install);
    await expect(storage.store.get("k")).rejects.toThrow(install);
    await expect(storage.queue.counts()).rejects.toThrow(install);
    await expect(storage.pubsub.publish("c", utf8("m"))).rejects.toThrow(install);
    await expect(storage.openQueue("other").claim({ limit: 1, leaseMs: 1000 })).rejects.toSatisfy(
      (error) => TroupeError.isInstance(error, "UNAVAILABLE"),
    );
    await storage.close();
  });
});
