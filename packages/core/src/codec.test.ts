import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  createJsonCodec,
  fromUtf8,
  hasTaggedForm,
  isPlainJson,
  jsonCodec,
  parseTagged,
  reviveTagged,
  taggedJson,
  utf8,
} from "./codec.js";

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

  it("round-trips an invalid Date instead of throwing", () => {
    const decoded = jsonCodec.decode(
      jsonCodec.encode({ at: new Date(Number.NaN), list: [new Date(Number.NaN)] }),
    );
    expect(decoded).toEqual({ at: expect.any(Date), list: [expect.any(Date)] });
    const { at, list } = decoded as { at: Date; list: Date[] };
    expect(Number.isNaN(at.getTime())).toBe(true);
    expect(Number.isNaN(list[0]?.getTime())).toBe(true);
    // The case the property test found (seed 648366710): a tag-like key holding an invalid Date.
    const text = taggedJson([{ $bigint: [new Date(Number.NaN)] }]) as string;
    expect(() => parseTagged(text)).not.toThrow();
  });

  it("keeps user objects that look like tags unchanged", () => {
    const value = { $bigint: "not a bigint", other: { $date: "nope" } };
    expect(jsonCodec.decode(jsonCodec.encode(value))).toEqual(value);
    expect(jsonCodec.decode(jsonCodec.encode({ $bytes: 1 }))).toEqual({ $bytes: 1 });
  });

  it("escapes a tag-like key whose neighbours are left out as undefined", () => {
    // Written without its undefined neighbours, the object has one tag-like key.
    const cases: [unknown, unknown][] = [
      [{ $bigint: {}, other: undefined }, { $bigint: {} }],
      [{ $date: "nope", gone: undefined }, { $date: "nope" }],
      [
        { nested: [{ $bytes: 1, x: undefined }], d: new Date(0) },
        { nested: [{ $bytes: 1 }], d: new Date(0) },
      ],
    ];
    for (const [value, expected] of cases) {
      expect(jsonCodec.decode(jsonCodec.encode(value))).toEqual(expected);
    }
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

  it("writes plain values without the replacer, byte for byte as the replacer would", () => {
    const tagKey = fc.constantFrom("$bigint", "$date", "$bytes", "$undefined", "$object", "toJSON");
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.anything({ maxDepth: 2, withBigInt: true, withDate: true, withTypedArray: true }),
        fc.jsonValue({ maxDepth: 2 }),
        fc.dictionary(fc.oneof(tagKey, fc.string()), tie("node"), { maxKeys: 2 }),
        fc.array(fc.option(tie("node"), { nil: undefined }), { maxLength: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (input) => {
        if (isPlainJson(input)) expect(JSON.stringify(input)).toBe(taggedJson(input));
        const tagged = taggedJson(input);
        if (tagged === undefined) expect(() => jsonCodec.encode(input)).toThrowError(/undefined/);
        else expect(fromUtf8(jsonCodec.encode(input))).toBe(tagged);
      }),
      { numRuns: 1000 },
    );
  });

  it("skips the reviver only where it would change nothing", () => {
    const tagKey = fc.constantFrom("$bigint", "$date", "$bytes", "$undefined", "$object", "k", "v");
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.anything({ maxDepth: 2, withBigInt: true, withDate: true, withTypedArray: true }),
        fc.dictionary(tagKey, tie("node"), { maxKeys: 2 }),
        fc.array(fc.option(tie("node"), { nil: undefined }), { maxLength: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, (input) => {
        const text = taggedJson(input);
        if (text === undefined) return;
        // Either way the same value, or the same error (a tag holding a bad value).
        const outcome = (parse: () => unknown) => {
          try {
            return { value: parse() };
          } catch (error) {
            return { error: String(error) };
          }
        };
        expect(outcome(() => parseTagged(text))).toStrictEqual(
          outcome(() => JSON.parse(text, reviveTagged)),
        );
      }),
      { numRuns: 1000 },
    );
    expect(hasTaggedForm(JSON.parse('{"a":[{"$bigint":"1"}]}'))).toBe(true);
    expect(hasTaggedForm(JSON.parse('{"a":[{"$bigint":"1","b":2}],"c":{"$other":1}}'))).toBe(false);
    // Nesting past the walk's depth goes through the reviver, as every value did before.
    expect(hasTaggedForm(JSON.parse(`${"[".repeat(100)}${"]".repeat(100)}`))).toBe(true);
    expect(hasTaggedForm(JSON.parse(`${"[".repeat(10)}${"]".repeat(10)}`))).toBe(false);
  });

  it("sends only unambiguous plain JSON down the fast path", () => {
    expect(isPlainJson({ a: [1, "x", null, true], b: { c: -0 }, d: undefined })).toBe(true);
    expect(isPlainJson([1, undefined])).toBe(false);
    // biome-ignore lint/suspicious/noSparseArray: a hole is what is tested
    expect(isPlainJson([1, , 2])).toBe(false);
    expect(isPlainJson({ $bytes: 1 })).toBe(false);
    expect(isPlainJson({ at: new Date(0) })).toBe(false);
    expect(isPlainJson({ n: 1n })).toBe(false);
    expect(isPlainJson({ b: new Uint8Array(1) })).toBe(false);
    expect(isPlainJson({ toJSON: () => ({ $date: "x" }) })).toBe(false);
    expect(isPlainJson(undefined)).toBe(false);
    const deep: unknown[] = [];
    let at = deep;
    for (let i = 0; i < 100; i++) at = at[0] = [] as unknown[];
    expect(isPlainJson(deep)).toBe(false);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => jsonCodec.encode(cycle)).toThrowError(/circular/i);
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
