// Staged writes: several actors' states committed in one Store commit made by someone else.
import { createMemoryQueue, createMemoryStore, type StoreOp } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  type ActorSystem,
  activationMemory,
  createActorSystem,
  defineActor,
  type StagedWrite,
  stageWrite,
} from "../src/index.js";

const Box = defineActor({
  name: "Box",
  key: "string",
  state: z.object({ n: z.number().int() }),
  initialState: () => ({ n: 0 }),
  actions: {
    stage: (ctx, n: unknown) => stageWrite(ctx, { n }),
    get: { readOnly: true, handler: (ctx) => ctx.state.n },
    bump: (ctx) => ++ctx.state.n,
    remember: (ctx, value: string) => {
      const before = activationMemory(ctx).get("v");
      activationMemory(ctx).set("v", value);
      return before ?? null;
    },
  },
});

const systems: ActorSystem[] = [];
afterEach(async () => {
  await Promise.all(systems.splice(0).map((system) => system.close()));
});
function open() {
  const store = createMemoryStore();
  const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Box] });
  systems.push(system);
  return { store, system };
}
const stage = (system: ActorSystem, key: string, n: unknown) =>
  system.invoke("Box", key, "stage", [n]) as Promise<StagedWrite>;

describe("stageWrite", () => {
  it("commits two actors' states in one commit; adopted states are saved and current", async () => {
    const { store, system } = open();
    const [a, b] = [await stage(system, "a", 5), await stage(system, "b", 7)];
    expect(a.store).toBe(store);
    expect(await system.invoke("Box", "a", "get", [])).toBe(0); // nothing applied before adopt
    await store.commit([...a.ops, ...b.ops]);
    a.adopt();
    b.adopt();
    expect(await system.invoke("Box", "a", "get", [])).toBe(5);
    expect((await system.inspectState("Box", "b")).state).toEqual({ n: 7 });
    expect(await system.invoke("Box", "a", "bump", [])).toBe(6);
    expect((await system.inspectState("Box", "a")).state).toEqual({ n: 6 });
  });

  it("fences the staged write: an activation that lost its claim cannot commit it", async () => {
    const { store, system } = open();
    const a = await stage(system, "a", 5);
    const check = a.ops.find(
      (op): op is Extract<StoreOp, { type: "check" }> => op.type === "check",
    );
    if (check === undefined) throw new Error("no fence guard");
    const entry = await store.get(check.key);
    if (entry === undefined) throw new Error("no claim");
    await store.commit([{ type: "set", key: check.key, value: entry.value }]); // claim moved
    await expect(store.commit(a.ops)).rejects.toMatchObject({ code: "STORE_CONFLICT" });
  });

  it("refuses a state that fails the schema, naming it", async () => {
    const { system } = open();
    await expect(stage(system, "a", "five")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(stageWrite({}, { n: 1 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("discard ends the activation: the next one loads what the Store holds", async () => {
    const { store, system } = open();
    const a = await stage(system, "a", 9);
    await store.commit(a.ops);
    a.discard(new Error("outcome unknown"));
    expect(await system.invoke("Box", "a", "get", [])).toBe(9);
  });
});

describe("activationMemory", () => {
  it("keeps values for the activation only, never saved", async () => {
    const { system } = open();
    expect(await system.invoke("Box", "m", "remember", ["x"])).toBeNull();
    expect(await system.invoke("Box", "m", "remember", ["y"])).toBe("x");
    expect((await system.inspectState("Box", "m")).stored).toBe(false);
  });
});
