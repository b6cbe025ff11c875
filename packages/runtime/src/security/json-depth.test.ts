import { describe, expect, it } from "vitest";
import { exceedsJsonDepth } from "./json-depth.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("exceedsJsonDepth", () => {
  it("counts nesting of objects and arrays against the bound", () => {
    expect(exceedsJsonDepth(bytes(nested(3)), 3)).toBe(false);
    expect(exceedsJsonDepth(bytes(nested(4)), 3)).toBe(true);
    expect(exceedsJsonDepth(bytes('{"a":{"b":[{"c":1}]}}'), 4)).toBe(false);
    expect(exceedsJsonDepth(bytes('{"a":{"b":[{"c":1}]}}'), 3)).toBe(true);
    // siblings do not add up
    expect(exceedsJsonDepth(bytes(`[${Array(1000).fill("[1]").join(",")}]`), 2)).toBe(false);
  });

  it("skips brackets inside strings, escaped quotes included, and multi-byte text", () => {
    expect(exceedsJsonDepth(bytes(`{"text":"${"[".repeat(100)}"}`), 1)).toBe(false);
    expect(exceedsJsonDepth(bytes(`{"text":"a\\"[[[[\\\\"}`), 1)).toBe(false);
    expect(exceedsJsonDepth(bytes(`{"text":"a\\"[[[[\\\\",["x"]}`), 1)).toBe(true);
    expect(exceedsJsonDepth(bytes('{"名前":"データ🎲[[[","x":[1]}'), 2)).toBe(false);
  });

  it("finds the 100,000-deep body that used to overflow the stack", () => {
    expect(exceedsJsonDepth(bytes(`{"name":"a","data":{"x":${nested(100_000)}}}`))).toBe(true);
  });
});
