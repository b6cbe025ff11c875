import { ManualClock, type Store } from "@troupe/core";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClusterDirectory, createMembership } from "../src/cluster/index.js";
import type { ActorAddress } from "../src/directory.js";

const schemas = scratchSchemas("actors_cluster", { from: import.meta.url });
beforeAll(() => schemas.assertReachable());
afterAll(() => schemas.dropAll());

describe("cluster directory on PostgreSQL", () => {
  it("gives each of 50 actors exactly one owner when three nodes race for all of them", async () => {
    const schema = schemas.fresh();
    const clock = new ManualClock();
    // One store (pool) per node, as three processes would have.
    const stores: Store[] = [0, 1, 2].map(() =>
      createPostgresStore({ connectionString: postgresUrl, schema }),
    );
    try {
      const directories = await Promise.all(
        stores.map(async (store, index) => {
          const membership = createMembership({ store, clock, nodeId: `pg-${index}` });
          await membership.join();
          return createClusterDirectory({ store, clock, membership });
        }),
      );
      const addresses: ActorAddress[] = Array.from({ length: 50 }, (_, i) => ({
        type: "Counter",
        key: `k${i}`,
      }));
      const outcomes = await Promise.all(
        addresses.map((address) =>
          Promise.allSettled(directories.map((directory) => directory.claim(address))),
        ),
      );
      for (const [index, results] of outcomes.entries()) {
        const won = results.filter((result) => result.status === "fulfilled");
        expect(won, `actor k${index}`).toHaveLength(1);
        for (const result of results) {
          if (result.status === "rejected") expect(result.reason.code).toBe("STORE_CONFLICT");
        }
      }
      // Every node agrees on every owner.
      for (const address of addresses) {
        const seen = await Promise.all(directories.map((directory) => directory.locate(address)));
        expect(
          new Set(seen.map((ownership) => `${ownership.nodeId}@${ownership.epoch}`)).size,
        ).toBe(1);
      }
      await Promise.all(directories.map((directory) => directory.close()));
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
