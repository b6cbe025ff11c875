import { describe, expect, it } from "vitest";
import { classifyArrival, isTrimmed, oldestKept } from "./ordering.js";

describe("classifyArrival", () => {
  it("delivers the next event, drops old ones and reports a gap", () => {
    expect(classifyArrival(4, 5)).toBe("deliver");
    expect(classifyArrival(4, 4)).toBe("duplicate");
    expect(classifyArrival(4, 1)).toBe("duplicate");
    expect(classifyArrival(4, 7)).toBe("gap");
    expect(classifyArrival(0, 1)).toBe("deliver");
  });
});

describe("isTrimmed", () => {
  it("is true only when events after the position were removed", () => {
    expect(isTrimmed(3, 4, 10)).toBe(false);
    expect(isTrimmed(3, 6, 10)).toBe(true);
    expect(isTrimmed(3, undefined, 10)).toBe(true);
    // Nothing was published after the position: nothing can be missing.
    expect(isTrimmed(10, undefined, 10)).toBe(false);
    expect(isTrimmed(10, 8, 10)).toBe(false);
  });
});

describe("oldestKept", () => {
  it("keeps the last maxEvents", () => {
    expect(oldestKept(3, 5)).toBe(1);
    expect(oldestKept(5, 5)).toBe(1);
    expect(oldestKept(12, 5)).toBe(8);
  });
});

describe("peekSeq", () => {
  it("reads the sequence number of an encoded record and nothing else", async () => {
    const { jsonCodec } = await import("@troupe/core");
    const { peekSeq } = await import("./event-log.js");
    expect(peekSeq(jsonCodec.encode({ seq: 1234, at: 1, data: { x: 1 } }))).toBe(1234);
    expect(peekSeq(jsonCodec.encode({ at: 1, seq: 5, data: 1 }))).toBeUndefined();
    expect(peekSeq(new TextEncoder().encode('{"seq":,'))).toBeUndefined();
    expect(peekSeq(new TextEncoder().encode('{"seq":12'))).toBeUndefined();
  });
});
