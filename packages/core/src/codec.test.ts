import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createJsonCodec, fromUtf8, jsonCodec, utf8 } from "./codec.js";

describe("jsonCodec", () => {
  it("round-trips bigint, Date, bytes and undefined inside arrays", () => {
    const value = {
      count: 12345678901234567890n,
      at: new Date("2026-11-22T03:00:00.000Z"),
      blob: new Uint8Array([0, 1, 255]),
      list: [1, undefined, "x"],
      nested: { deep: [{ n: null }] },
    };
    expect(jsonCodec.decode(jsonCodec.encode(value))).toEqual(value);
  });

  it("keeps user objects that look like tags unchanged", () => {
    const value = { $bigint: "not a bigint", other: { $date: "nope" } };
    expect(jsonCodec.decode(jsonCodec.encode(value))).toEqual(value);
    expect(jsonCodec.decode(jsonCodec.encode({ $bytes: 1 }))).toEqual({ $bytes: 1 });
  });

  it("round-trips any JSON value, including objects keyed like its own tags", () => {
    const tagKey = fc.constantFrom("$bigint", "$date", "$bytes", "$undefined", "$object", "k", "v");
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 2 }),
        fc.dictionary(tagKey, tie("node"), { maxKeys: 2 }),
        fc.array(tie("node"), { maxLength: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (input) => {
        expect(jsonCodec.decode(jsonCodec.encode(input))).toEqual(
          JSON.parse(JSON.stringify(input)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it("stores readable UTF-8 JSON", () => {
    expect(fromUtf8(jsonCodec.encode({ a: "é" }))).toBe('{"a":"é"}');
  });

  it("rejects bytes that are not JSON with a clear error", () => {
    expect(() => jsonCodec.decode(utf8("{oops"))).toThrowError(
      "value: stored bytes are not valid JSON",
    );
    expect(() => jsonCodec.decode(new Uint8Array([0xff]))).toThrowError("not valid JSON");
  });

  it("validates decoded values against a schema, naming the field", () => {
    const codec = createJsonCodec(z.object({ run: z.object({ attempts: z.number() }) }));
    expect(codec.decode(codec.encode({ run: { attempts: 2 } }))).toEqual({ run: { attempts: 2 } });
    expect(() => codec.decode(utf8('{"run":{"attempts":"two"}}'))).toThrowError(/^run\.attempts: /);
  });
});
