import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type ActorSystem, createActorSystem, defineActor } from "../src/index.js";

const Greeter = defineActor({
  name: "Greeter",
  key: "string",
  state: z.object({ n: z.number() }),
  initialState: () => ({ n: 0 }),
  actions: {
    // An extension this test adds; typed loosely since no package declares it.
    hello: (ctx, name: string) => (ctx as unknown as { greet(name: string): string }).greet(name),
  },
});

const systems: ActorSystem[] = [];
const open = () => {
  const system = createActorSystem({
    store: createMemoryStore(),
    queue: createMemoryQueue(),
    actors: [Greeter],
  });
  systems.push(system);
  return system;
};
afterEach(async () => {
  await Promise.all(systems.splice(0).map((system) => system.close()));
});

describe("ActorSystem.extendContext", () => {
  it("adds a method every turn's context calls with itself; each system sees its own", async () => {
    const a = open();
    const b = open();
    a.extendContext(
      "greet",
      ((ctx: { address: { key: string } }, name: string) =>
        `${ctx.address.key} greets ${name} (a)`) as never,
    );
    b.extendContext("greet", ((_ctx: unknown, name: string) => `hi ${name} (b)`) as never);
    expect(await a.get(Greeter, "g").hello("ada")).toBe("g greets ada (a)");
    expect(await b.get(Greeter, "g").hello("bob")).toBe("hi bob (b)");
  });

  it("a system that did not add the method fails the call naming it", async () => {
    open().extendContext("greet", (() => "x") as never);
    await expect(open().get(Greeter, "g").hello("ada")).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("ctx.greet: this actor system has no such method"),
    });
  });

  it.each(["state", "get", "activation", "constructor", "", "not a name"])(
    "refuses the name %j (INVALID_ARGUMENT naming extendContext.name)",
    (name) => {
      expect(() => open().extendContext(name, (() => 1) as never)).toThrow(
        expect.objectContaining({
          code: "INVALID_ARGUMENT",
          details: expect.objectContaining({ field: "extendContext.name" }),
        }),
      );
    },
  );

  it("refuses a method that is not a function", () => {
    expect(() => open().extendContext("other", 3 as never)).toThrow(/extendContext\.method/);
  });
});
