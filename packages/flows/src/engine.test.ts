import { createMemoryQueue, createMemoryStore, type Queue, type Store } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createFlows } from "./engine.js";
import { createFunction } from "./function.js";

describe("createFlows options", () => {
  const store = createMemoryStore();
  const queue = createMemoryQueue();

  it("names the bad option", () => {
    expect(() => createFlows({ store, queue, workerConcurrency: 0 })).toThrow(
      /createFlows\.options\.workerConcurrency/,
    );
    expect(() => createFlows({ store: {} as Store, queue })).toThrow(/createFlows\.options\.store/);
    expect(() => createFlows({ store, queue: undefined as unknown as Queue })).toThrow(
      /createFlows\.options\.queue/,
    );
    expect(() => createFlows({ store, queue, prefix: "" })).toThrow(/createFlows\.options\.prefix/);
  });

  it("rejects two functions with one id", () => {
    const fn = createFunction({ id: "twice" }, async () => null);
    expect(() => createFlows({ store, queue, functions: [fn, fn] })).toThrow(/registered twice/);
  });
});
