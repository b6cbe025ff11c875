import { isUlid, ulidTime } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { eventIdsFromSeed } from "./event-id-seed.js";

describe("eventIdsFromSeed", () => {
  it("derives the same distinct ULIDs from the same seed, stamped with its time", () => {
    const seed = "1795313184957,YpBcMLkaETzW0w==";
    const ids = eventIdsFromSeed(seed, 3) ?? [];
    expect(ids).toEqual(eventIdsFromSeed(seed, 3));
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) {
      expect(isUlid(id)).toBe(true);
      expect(ulidTime(id)).toBe(1795313184957);
    }
    expect(eventIdsFromSeed("1795313184957,AAAAAAAAAAAAAA==", 1)).not.toEqual(ids.slice(0, 1));
  });

  it("ignores missing and malformed seeds", () => {
    for (const seed of [
      undefined,
      "",
      "abc",
      "1795313184957",
      "1795313184957,AAAA",
      "x,YpBcMLkaETzW0w==",
    ]) {
      expect(eventIdsFromSeed(seed, 1)).toBeUndefined();
    }
  });

  it("wraps the entropy at its top without colliding within a send", () => {
    const top = Buffer.alloc(10, 0xff).toString("base64");
    const ids = eventIdsFromSeed(`1700000000000,${top}`, 3) ?? [];
    expect(ids[0]?.endsWith("ZZZZZZZZZZZZZZZZ")).toBe(true);
    expect(ids[1]?.endsWith("0000000000000000")).toBe(true);
    expect(new Set(ids).size).toBe(3);
    expect(ids.every(isUlid)).toBe(true);
  });
});
