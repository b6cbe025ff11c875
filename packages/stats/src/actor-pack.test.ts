import { serialize } from "node:v8";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { actorsOf, packActors, unpackActors } from "./actor-pack.js";
import { testActor } from "./test-actor.js";
import type { Actor } from "./types.js";

const text = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.constant(""));
const number = fc.oneof(fc.double(), fc.constantFrom(-0, 0, Number.NaN, 1e300, -1e-320));
const lists = [["race", "gear"], ["buffs"], []];
const datas = [{}, { level: 3 }, { nested: { a: [1, -0] } }];
const actor: fc.Arbitrary<Actor> = fc
  .record({
    id: fc.string({ minLength: 1, unit: "binary" }),
    name: text,
    race: text,
    lifespan: number,
    age: number,
    created_at: number,
    updated_at: number,
    version: fc.nat(),
    list: fc.nat(lists.length - 1),
    own: fc.option(fc.array(fc.string(), { maxLength: 3 }), { nil: undefined }),
    data: fc.oneof(fc.nat(datas.length - 1), fc.dictionary(fc.string(), number)),
  })
  .map(({ list, own, data, ...fields }) => ({
    ...fields,
    // Shared lists and data objects, as a batch's actors often share them, or their own.
    subsystems: own ?? (lists[list] as string[]),
    data: typeof data === "number" ? (datas[data] as Record<string, unknown>) : data,
  }));

describe("packed actors", () => {
  it("arrive as the structured clone of the actors would, bit for bit (key order and sharing too)", () => {
    fc.assert(
      fc.property(fc.array(actor, { maxLength: 40 }), (actors) => {
        const packed = packActors(actors);
        expect(packed).toBeDefined();
        const arrived = unpackActors(structuredClone(packed as NonNullable<typeof packed>));
        const cloned = structuredClone(actors);
        expect(arrived.length).toBe(cloned.length);
        for (let k = 0; k < cloned.length; k++) {
          const a = arrived[k] as unknown as Record<string, unknown>;
          const b = cloned[k] as unknown as Record<string, unknown>;
          expect(Object.keys(a)).toEqual(Object.keys(b));
          // Strings equal and numbers bit for bit (−0, NaN); a string's one- or two-byte form may
          // differ, so not the serialised bytes here.
          for (const key of Object.keys(b)) {
            if (typeof b[key] !== "object") expect(Object.is(a[key], b[key])).toBe(true);
          }
        }
        // The lists and data objects, their sharing included, as the clone gives them.
        const shared = (list: readonly Actor[]) => [
          list.map((one) => one.subsystems),
          list.map((one) => one.data),
        ];
        expect(serialize(shared(arrived))).toEqual(serialize(shared(cloned)));
      }),
    );
  });

  it("go as objects when an actor has another shape", () => {
    const base = testActor("hero", ["race"], 2);
    const { id, ...rest } = base;
    const inherited = Object.create({ extra: 1 }) as Record<string, unknown>;
    Object.assign(inherited, base);
    const others: unknown[] = [
      { ...base, extra: 1 },
      { ...rest, id },
      { ...base, name: undefined },
      { ...base, age: "30" },
      { ...base, created_at: 1n },
      inherited,
    ];
    for (const other of others) {
      expect(packActors([base, other as Actor])).toBeUndefined();
    }
    const sent = [base, { ...base, extra: 1 } as Actor];
    expect(actorsOf(packActors(sent) ?? sent)).toBe(sent);
  });
});
