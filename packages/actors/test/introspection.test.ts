import { createMemoryQueue, createMemoryStore, ManualClock, TroupeError } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ActorSystem,
  createActorSystem,
  defineActor,
  isActorDefinition,
} from "../src/index.js";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int(), at: z.bigint().optional() }),
  initialState: () => ({ count: 0 }),
  saveMode: "explicit",
  idleTimeoutMs: 60_000,
  actions: {
    increment(ctx, by: number) {
      ctx.state.count += by;
      return ctx.state.count;
    },
    async save(ctx) {
      ctx.state.at = 7n;
      await ctx.save();
    },
    get: { readOnly: true, handler: (ctx) => ctx.state.count },
    add: {
      args: z.tuple([z.number().int()]),
      handler: (ctx, by: number) => (ctx.state.count += by),
    },
  },
});

const Singleton = defineActor({
  name: "Singleton",
  key: "none",
  state: z.object({ n: z.number() }),
  initialState: () => ({ n: 0 }),
  actions: { bump: (ctx) => ++ctx.state.n },
});

let system: ActorSystem | undefined;
afterEach(async () => {
  await system?.close();
  system = undefined;
});

function make(clock: ManualClock) {
  const store = createMemoryStore();
  system = createActorSystem({
    store,
    queue: createMemoryQueue({ clock }),
    clock,
    nodeId: "n1",
    actors: [Counter, Singleton],
  });
  return system;
}

async function codeOf(work: () => unknown): Promise<string | undefined> {
  try {
    await work();
    return undefined;
  } catch (error) {
    return TroupeError.isInstance(error) ? `${error.code} ${error.message}` : String(error);
  }
}

describe("introspection", () => {
  it("describes the registered types and their actions", () => {
    const actors = make(new ManualClock(1000));
    expect(actors.types()).toEqual([
      {
        name: "Counter",
        keyKind: "string",
        actions: [
          { name: "increment", readOnly: false, interleave: false },
          { name: "save", readOnly: false, interleave: false },
          { name: "get", readOnly: true, interleave: false },
          { name: "add", readOnly: false, interleave: false },
        ],
        idleTimeoutMs: 60_000,
        saveMode: "explicit",
      },
      expect.objectContaining({ name: "Singleton", keyKind: "none" }),
    ]);
    expect(isActorDefinition(Counter)).toBe(true);
    expect(isActorDefinition({ name: "Counter" })).toBe(false);
  });

  it("lists activations with when they started and were last busy", async () => {
    const clock = new ManualClock(1000);
    const actors = make(clock);
    expect(actors.listActivations()).toEqual([]);
    await actors.invoke("Counter", "a", "increment", [1]);
    await clock.advance(5000);
    await actors.invoke("Singleton", undefined, "bump", []);
    const list = actors.listActivations();
    expect(list).toEqual([
      { type: "Counter", key: "a", nodeId: "n1", since: 1000, lastCallAt: 6000, status: "active" },
      { type: "Singleton", key: "", nodeId: "n1", since: 6000, lastCallAt: 6000, status: "active" },
    ]);
    // Past Counter's idle timeout (60 s; Singleton keeps the default 10 min) it leaves the list.
    await clock.advance(120_000);
    await clock.advance(0);
    expect(actors.listActivations().map((info) => info.type)).toEqual(["Singleton"]);
  });

  it("reads stored and live state without activating the actor", async () => {
    const actors = make(new ManualClock(1000));
    expect(await actors.inspectState("Counter", "a")).toEqual({
      type: "Counter",
      key: "a",
      active: false,
      stored: false,
      state: undefined,
    });
    expect(actors.listActivations()).toEqual([]);
    await actors.invoke("Counter", "a", "increment", [2]);
    // Explicit save mode: nothing stored yet, the live copy shows the change.
    expect(await actors.inspectState("Counter", "a")).toMatchObject({
      active: true,
      stored: false,
      live: { count: 2 },
    });
    await actors.invoke("Counter", "a", "save", []);
    await actors.invoke("Counter", "a", "increment", [1]);
    const view = await actors.inspectState("Counter", "a");
    expect(view).toMatchObject({ stored: true, state: { count: 2, at: 7n }, live: { count: 3 } });
    // The live copy is a copy.
    (view.live as { count: number }).count = 100;
    expect(await actors.invoke("Counter", "a", "get", [])).toBe(3);
    expect(await codeOf(() => actors.inspectState("Nope", "a"))).toBe(
      'INVALID_ARGUMENT type: unknown actor type "Nope"',
    );
    expect(await codeOf(() => actors.inspectState("Counter", 5))).toMatch(/^INVALID_ARGUMENT key:/);
  });

  it("sends one-way by name, checking type, action and arguments at once", async () => {
    const clock = new ManualClock(1000);
    const actors = make(clock);
    actors.send("Counter", "b", "add", [5]);
    actors.send("Counter", "b", "increment", [1]);
    expect(await actors.invoke("Counter", "b", "get", [])).toBe(6);
    expect(await codeOf(() => actors.send("Counter", "b", "add", ["x"]))).toMatch(
      /^INVALID_ARGUMENT Counter\.add\.args\.0/,
    );
    expect(await codeOf(() => actors.send("Counter", "b", "nope", []))).toMatch(
      /^INVALID_ARGUMENT action:/,
    );
    expect(await codeOf(() => actors.send("Counter", "", "get", []))).toMatch(
      /^INVALID_ARGUMENT key:/,
    );
  });
});
