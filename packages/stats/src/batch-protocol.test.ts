import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DecodedOutcomes,
  encodeOutcomes,
  type Outcome,
  subsystemSignature,
} from "./batch-protocol.js";
import type { CapBounds, StatValues } from "./types.js";

const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
const number = fc.oneof(fc.double({ noNaN: true }), fc.constantFrom(-0, 0, 1e-320));
const values = fc
  .uniqueArray(name, { maxLength: 6 })
  .chain((keys) =>
    fc
      .tuple(...keys.map(() => number))
      .map((list) => Object.fromEntries(keys.map((key, i) => [key, list[i]]))),
  );
const bounds = fc
  .uniqueArray(name, { maxLength: 6 })
  .chain((keys) =>
    fc
      .tuple(...keys.map(() => fc.tuple(number, number)))
      .map((list) =>
        Object.fromEntries(keys.map((key, i) => [key, { min: list[i]?.[0], max: list[i]?.[1] }])),
      ),
  );
const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc
    .record({
      primary: values,
      derived: values,
      caps_used: bounds,
      failed: fc.option(fc.array(name, { maxLength: 2 }), { nil: undefined }),
    })
    .map(({ failed, ...stat }) =>
      failed === undefined
        ? { values: stat as unknown as StatValues }
        : { values: stat as unknown as StatValues, failed },
    ),
  fc.record({
    error: fc.record({
      name: fc.constant("TroupeError"),
      message: fc.string(),
      code: fc.constant("INVALID_ARGUMENT"),
      details: fc.constant(undefined),
    }),
  }),
);

/** Bit patterns, keys in their order. */
function bitsOf(map: Readonly<Record<string, unknown>>): unknown[] {
  const view = new DataView(new ArrayBuffer(8));
  const bits = (value: number) => {
    view.setFloat64(0, value);
    return view.getBigUint64(0).toString(16);
  };
  return Object.keys(map).map((key) => {
    const value = map[key] as number | CapBounds;
    return typeof value === "number" ? [key, bits(value)] : [key, bits(value.min), bits(value.max)];
  });
}

describe("the batch protocol", () => {
  it("packs and unpacks every outcome bit for bit, keys in order", () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 20 }), (outcomes) => {
        const decoded = new DecodedOutcomes(encodeOutcomes(outcomes), () => undefined);
        const encoded = encodeOutcomes(outcomes);
        outcomes.forEach((sent, k) => {
          if (sent.error !== undefined) {
            expect(decoded.values(k)).toBeUndefined();
            expect(encoded.extras[k]?.error).toEqual(sent.error);
            return;
          }
          const got = decoded.values(k) as StatValues;
          expect(bitsOf(got.primary)).toEqual(bitsOf(sent.values.primary));
          expect(bitsOf(got.derived)).toEqual(bitsOf(sent.values.derived));
          expect(bitsOf(got.caps_used)).toEqual(bitsOf(sent.values.caps_used));
          expect(encoded.extras[k]?.failed).toEqual(sent.failed);
        });
      }),
    );
  });

  it("gives bounds equal to a dimension's clamp its shared bounds object", () => {
    const shared = Object.freeze({ min: 0, max: 100 });
    const sent: Outcome = {
      values: {
        primary: { hp: 5 },
        derived: {},
        caps_used: { hp: { min: 0, max: 100 }, mp: { min: 0, max: 50 } },
      },
    };
    const decoded = new DecodedOutcomes(encodeOutcomes([sent]), (dimension) =>
      dimension === "hp" || dimension === "mp" ? shared : undefined,
    );
    const caps = (decoded.values(0) as StatValues).caps_used;
    expect(caps.hp).toBe(shared);
    expect(caps.mp).toEqual({ min: 0, max: 50 });
    expect(caps.mp).not.toBe(shared);
  });

  it("names the subsystem set by id, priority, stage and version", () => {
    const emit = () => {};
    expect(
      subsystemSignature([
        { id: "a", emit },
        { id: "b", priority: 2, stage: "post_primary", version: 3, emit },
      ]),
    ).toBe('[["a",0,"primary",0],["b",2,"post_primary",3]]');
  });
});
