import { fromUtf8, jsonCodec } from "@troupe/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeState, fingerprint } from "./state-encoding.js";

// States as actors hold them: JSON data, sometimes with values the codec tags.
const state = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.jsonValue({ maxDepth: 2 }),
    fc.date({ noInvalidDate: true }),
    fc.bigInt(),
    fc.uint8Array({ maxLength: 4 }),
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constantFrom("$date", "$bigint", "0")), tie("value"), {
      maxKeys: 3,
    }),
  ),
})).value;

describe("state encoding", () => {
  it("writes exactly the bytes the core JSON codec writes", () => {
    fc.assert(
      fc.property(state, (value) => {
        const bytes = encodeState(value, fingerprint(value));
        expect(fromUtf8(bytes)).toBe(fromUtf8(jsonCodec.encode(value)));
      }),
      { numRuns: 2000 },
    );
  });
});
