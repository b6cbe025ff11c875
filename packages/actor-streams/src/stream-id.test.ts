import { describe, expect, it } from "vitest";
import { parseSeqText, streamLayout, validateNamespace, validateStreamKey } from "./stream-id.js";

describe("stream ids", () => {
  it("names the field of a bad namespace, key or sequence number", () => {
    expect(() => validateNamespace(7)).toThrow(/^namespace: expected a string, got 7$/);
    expect(() => validateNamespace("9lives")).toThrow(/^namespace: expected a letter/);
    expect(() => validateStreamKey("")).toThrow(/^key: /);
    expect(() => validateStreamKey("a/b")).toThrow(/^key: /);
    expect(() => parseSeqText("-1", "from")).toThrow(/^from: expected a non-negative integer/);
    expect(() => parseSeqText("1e3", "Last-Event-ID")).toThrow(/^Last-Event-ID: /);
    expect(parseSeqText("42", "from")).toBe(42);
  });

  it("lays keys out so key order is sequence order and ids parse back", () => {
    const layout = streamLayout();
    const id = { namespace: "chat", key: "room:1" };
    expect(layout.event(id, 9) < layout.event(id, 10)).toBe(true);
    expect(layout.idOfHead(layout.head(id))).toEqual(id);
    expect(layout.idOfCursor(layout.cursor(id, "i.Inbox"))).toEqual({ id, consumer: "i.Inbox" });
    expect(layout.channel(id)).toBe("troupe.streams/chat/room:1");
  });
});
