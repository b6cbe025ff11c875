import { ManualClock, StoreConflictError, utf8 } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { postgresUrl, useScratchSchemas } from "../test/support.js";
import { createPostgresQueue } from "./postgres-queue.js";
import { createPostgresStore } from "./postgres-store.js";

const { freshSchema } = useScratchSchemas("pgsq");
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function open(schema: string, queueSchema = schema) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const store = createPostgresStore({ connectionString: postgresUrl, schema });
  const queue = createPostgresQueue({
    connectionString: postgresUrl,
    schema: queueSchema,
    queueName: "paired",
    clock,
  });
  closers.push(
    () => queue.close(),
    () => store.close(),
  );
  return { store, queue, clock };
}

describe("postgres queue paired with a store (commitWithStore)", () => {
  it("pairs only with a postgres store on the same database and schema", () => {
    const schema = freshSchema();
    const { store, queue } = open(schema);
    expect(queue.pairsWith(store)).toBe(true);
    const other = open(freshSchema(), schema);
    expect(other.queue.pairsWith(other.store)).toBe(false);
    expect(queue.pairsWith(other.store)).toBe(false);
  });

  it("commits the store ops and enqueues the items in one transaction", async () => {
    const { store, queue } = open(freshSchema());
    const result = await queue.commitWithStore(
      [{ type: "set", key: "run/1", value: utf8("a"), expect: "absent" }],
      [
        { id: "d:1", payload: utf8("x") },
        { id: "d:1", payload: utf8("duplicate") },
        { id: "x:1", payload: utf8("y"), availableAt: Date.UTC(2026, 0, 2) },
      ],
    );
    const entry = await store.get("run/1");
    expect(entry?.version).toBe(result.version);
    expect(await queue.counts()).toEqual({ waiting: 2, leased: 0 });
    const [lease, ...rest] = await queue.claim({ limit: 10, leaseMs: 1000 });
    expect(lease?.id).toBe("d:1");
    expect(new TextDecoder().decode(lease?.payload)).toBe("x");
    expect(rest).toEqual([]);
  });

  it("enqueues nothing when a guard fails, and reports the conflict as the store does", async () => {
    const { store, queue } = open(freshSchema());
    await store.commit([{ type: "set", key: "run/1", value: utf8("a") }]);
    const failed = queue.commitWithStore(
      [
        { type: "set", key: "run/2", value: utf8("b") },
        { type: "set", key: "run/1", value: utf8("c"), expect: "absent" },
      ],
      [{ id: "d:2", payload: utf8("x") }],
    );
    await expect(failed).rejects.toSatisfy(
      (error: unknown) => StoreConflictError.isInstance(error) && error.key === "run/1",
    );
    expect(await store.get("run/2")).toBeUndefined();
    expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
  });
});
