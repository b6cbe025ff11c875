import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cloneState } from "./clone-state.js";

describe("cloneState", () => {
  it("copies like structuredClone, sharing nothing with the original (property)", () => {
    const anything = fc.oneof(
      fc.jsonValue(),
      fc.object({ withDate: true, withMap: true, withSet: true, withTypedArray: true }),
      fc.array(fc.option(fc.integer(), { nil: undefined })),
      fc.sparseArray(fc.integer()),
      fc.dictionary(fc.string(), fc.bigInt()),
    );
    fc.assert(
      fc.property(anything, (value) => {
        const copy = cloneState(value);
        expect(copy).toStrictEqual(structuredClone(value));
        if (typeof value === "object" && value !== null) expect(copy).not.toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps what only structuredClone keeps: a Date stays a Date, a hole stays a hole, extra array properties stay", () => {
    const date = new Date(5);
    const copied = cloneState({ at: date, list: [1, 2] }) as { at: Date };
    expect(copied.at).toBeInstanceOf(Date);
    expect(copied.at).not.toBe(date);
    const sparse = [1, 2, 3];
    delete sparse[1]; // a hole
    expect(1 in (cloneState(sparse) as unknown[])).toBe(false);
    const tagged = Object.assign([1], { tag: "x" });
    expect((cloneState(tagged) as { tag?: string }).tag).toBe("x");
  });

  it("throws DataCloneError for what cannot be cloned, as structuredClone does", () => {
    expect(() => cloneState({ f: () => 1 })).toThrow(
      expect.objectContaining({ name: "DataCloneError" }),
    );
    expect(() => cloneState([Symbol("s")])).toThrow(
      expect.objectContaining({ name: "DataCloneError" }),
    );
  });

  it("copies plain data deeply: a change to the copy leaves the original", () => {
    const original = { balance: 1, log: [{ id: "a" }] };
    const copy = cloneState(original) as typeof original;
    copy.balance = 2;
    copy.log[0] = { id: "b" };
    expect(original).toEqual({ balance: 1, log: [{ id: "a" }] });
  });
});
