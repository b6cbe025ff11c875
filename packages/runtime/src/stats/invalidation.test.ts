import { utf8 } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { decodeChanges, encodeChanges, NewestVersions } from "./invalidation.js";

describe("invalidation messages", () => {
  it("round-trip every change, in order, sliced under PostgreSQL's NOTIFY limit", () => {
    const changes = Array.from({ length: 101 }, (_, index) => ({
      actorId: `player:${"x".repeat(100)}:${index}`,
      version: index + 1,
    }));
    const messages = encodeChanges(changes);
    expect(messages.length).toBe(3);
    for (const message of messages) expect(message.byteLength).toBeLessThan(8_000);
    expect(messages.flatMap(decodeChanges)).toEqual(changes);
  });

  it("decode nothing from malformed messages", () => {
    expect(decodeChanges(utf8("not json"))).toEqual([]);
    expect(decodeChanges(utf8('{"a":1}'))).toEqual([]);
    expect(decodeChanges(utf8('[["a",1.5],[2,3],["b",4]]'))).toEqual([
      { actorId: "b", version: 4 },
    ]);
  });
});

describe("NewestVersions", () => {
  it("keeps the highest version per actor and reports only news", () => {
    const newest = new NewestVersions(10);
    expect(newest.note({ actorId: "a", version: 5 })).toBe(true);
    expect(newest.note({ actorId: "a", version: 3 })).toBe(false);
    expect(newest.note({ actorId: "a", version: 5 })).toBe(false);
    expect(newest.get("a")).toBe(5);
    expect(newest.get("b")).toBeUndefined();
  });

  it("forgets the longest-unchanged actor first when full", () => {
    const newest = new NewestVersions(2);
    newest.note({ actorId: "a", version: 1 });
    newest.note({ actorId: "b", version: 1 });
    newest.note({ actorId: "a", version: 2 });
    newest.note({ actorId: "c", version: 1 });
    expect(newest.get("b")).toBeUndefined();
    expect(newest.get("a")).toBe(2);
    expect(newest.get("c")).toBe(1);
  });
});
