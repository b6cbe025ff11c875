import { TroupeError, utf8 } from "@troupe/core";
import { Etcd3 } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { deletePrefix, etcdUrl, testPrefix } from "../test/etcd-env.js";
import { createEtcdStore } from "./etcd-store.js";

const prefixes: string[] = [];
afterEach(async () => {
  for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
});
const freshPrefix = () => {
  const prefix = testPrefix(`options_${process.pid}_${Date.now().toString(36)}_${prefixes.length}`);
  prefixes.push(prefix);
  return prefix;
};

async function caught(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

async function expectInvalid(run: () => unknown, field: string): Promise<void> {
  const error = await caught(run);
  expect(TroupeError.isInstance(error, "INVALID_ARGUMENT"), String(error)).toBe(true);
  expect((error as TroupeError).details.field).toBe(field);
}

describe("createEtcdStore options", () => {
  it("needs exactly one of url and client, and a URL of a known scheme", async () => {
    await expectInvalid(() => createEtcdStore({}), "createEtcdStore.url");
    const client = new Etcd3({ hosts: "http://127.0.0.1:2379" });
    await expectInvalid(() => createEtcdStore({ url: etcdUrl, client }), "createEtcdStore.url");
    client.close();
    await expectInvalid(() => createEtcdStore({ url: "redis://x:1" }), "createEtcdStore.url");
    await expectInvalid(
      () => createEtcdStore({ url: etcdUrl, prefix: "" }),
      "createEtcdStore.prefix",
    );
    await expectInvalid(
      () => createEtcdStore({ url: etcdUrl, maxTxnOps: 1 }),
      "createEtcdStore.maxTxnOps",
    );
  });

  it("refuses a commit larger than one transaction before sending it, naming ops", async () => {
    const store = createEtcdStore({ url: etcdUrl, prefix: freshPrefix(), maxTxnOps: 8 });
    try {
      const ops = Array.from({ length: 8 }, (_, i) => ({
        type: "set" as const,
        key: `k${i}`,
        value: utf8("v"),
      }));
      await expectInvalid(() => store.commit(ops), "ops");
      expect(await store.list()).toEqual([]);
      // One op fewer fits (the tick write of a delete-only commit needs the spare slot).
      await store.commit(ops.slice(0, 7));
      expect(await store.list()).toHaveLength(7);
    } finally {
      await store.close();
    }
  });

  it("reads more keys than one transaction holds at a single revision", async () => {
    const store = createEtcdStore({ url: etcdUrl, prefix: freshPrefix(), maxTxnOps: 4 });
    try {
      const keys = Array.from({ length: 3 }, (_, i) => `k${i}`);
      await store.commit(keys.map((key) => ({ type: "set", key, value: utf8(key) })));
      const more = [...keys, "k3", "k4", "k5", "k6", "k0"];
      const got = await store.getMany(more);
      expect(got.map((entry) => entry?.key)).toEqual([
        "k0",
        "k1",
        "k2",
        undefined,
        undefined,
        undefined,
        undefined,
        "k0",
      ]);
    } finally {
      await store.close();
    }
  });

  it("pages a long list at one revision, in both directions", async () => {
    const store = createEtcdStore({ url: etcdUrl, prefix: freshPrefix(), listPageSize: 3 });
    try {
      const keys = Array.from({ length: 10 }, (_, i) => `k${String(i).padStart(2, "0")}`);
      await store.commit(keys.map((key) => ({ type: "set", key, value: utf8(key) })));
      expect((await store.list()).map((entry) => entry.key)).toEqual(keys);
      expect((await store.list({ reverse: true })).map((entry) => entry.key)).toEqual(
        [...keys].reverse(),
      );
      expect((await store.list({ limit: 7 })).map((entry) => entry.key)).toEqual(keys.slice(0, 7));
      expect((await store.list({ reverse: true, limit: 4 })).map((entry) => entry.key)).toEqual(
        keys.slice(6).reverse(),
      );
    } finally {
      await store.close();
    }
  });

  it("gives a delete-only commit a version of its own", async () => {
    const store = createEtcdStore({ url: etcdUrl, prefix: freshPrefix() });
    try {
      const first = await store.commit([{ type: "set", key: "a", value: utf8("x") }]);
      const removed = await store.commit([{ type: "delete", key: "nothing-here" }]);
      expect(removed.version).toBeGreaterThan(first.version);
    } finally {
      await store.close();
    }
  });

  it("fails with UNAVAILABLE, not a hang, when etcd is unreachable", async () => {
    const store = createEtcdStore({ url: "etcd://127.0.0.1:1", callTimeoutMs: 500 });
    try {
      for (const run of [
        () => store.get("a"),
        () => store.commit([{ type: "set", key: "a", value: utf8("x") }]),
      ]) {
        const error = await caught(run);
        expect(TroupeError.isInstance(error, "UNAVAILABLE"), String(error)).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it("is CLOSED after close", async () => {
    const store = createEtcdStore({ url: etcdUrl, prefix: freshPrefix() });
    await store.close();
    const error = await caught(() => store.get("a"));
    expect(TroupeError.isInstance(error, "CLOSED")).toBe(true);
  });
});
