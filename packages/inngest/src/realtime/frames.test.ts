import { describe, expect, it } from "vitest";
import {
  decodeFrame,
  encodeFrame,
  frameMatches,
  publishedData,
  publishQuerySchema,
  pubsubChannelOf,
  type RealtimeFrame,
  scopeOfTokenRequest,
  tokenRequestSchema,
} from "./frames.js";

const frame: RealtimeFrame = {
  kind: "data",
  channel: "user:42",
  topic: "progress",
  data: { pct: 10 },
  run_id: "01RUN",
  created_at: "2026-01-01T00:00:00.000Z",
};

describe("realtime frames", () => {
  it("round-trips through the PubSub encoding and rejects anything else", () => {
    expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
    expect(decodeFrame(Buffer.from("not json"))).toBeUndefined();
    expect(decodeFrame(Buffer.from(JSON.stringify({ kind: "data" })))).toBeUndefined();
    const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));
    // Unknown keys are dropped; a wrong kind, a non-string name or id, or a non-object is not a frame.
    expect(decodeFrame(bytes({ ...frame, extra: 1 }))).toEqual(frame);
    expect(decodeFrame(JSON.stringify({ ...frame, stream_id: "s1" }))).toEqual({
      ...frame,
      stream_id: "s1",
    });
    for (const bad of [
      { ...frame, kind: "run" },
      { ...frame, channel: 42 },
      { ...frame, topic: null },
      { ...frame, created_at: 0 },
      { ...frame, run_id: 7 },
      { ...frame, stream_id: {} },
      [frame],
      "frame",
      null,
    ]) {
      expect(decodeFrame(bytes(bad))).toBeUndefined();
    }
  });

  it("delivers only the token's channel and topics", () => {
    const scope = { channel: "user:42", topics: ["progress", "done"] };
    expect(frameMatches(scope, frame)).toBe(true);
    expect(frameMatches(scope, { ...frame, topic: "secret" })).toBe(false);
    expect(frameMatches(scope, { ...frame, channel: "user:43" })).toBe(false);
  });

  it("maps any channel name to a valid, stable PubSub channel", () => {
    const a = pubsubChannelOf("inngest/", "chat room @ 7 ✓");
    expect(a).toMatch(/^inngest\/rt\/[0-9a-f]{40}$/);
    expect(pubsubChannelOf("inngest/", "chat room @ 7 ✓")).toBe(a);
    expect(pubsubChannelOf("inngest/", "chat room @ 8 ✓")).not.toBe(a);
  });

  it("reads JSON publish bodies and keeps plain text as text", () => {
    expect(publishedData('{"a":1}')).toEqual({ a: 1 });
    expect(publishedData("hello")).toBe("hello");
    expect(publishedData("")).toBeNull();
  });

  it("parses the SDK's token request into one channel and its distinct topics", () => {
    const parsed = tokenRequestSchema.parse([
      { channel: "c", name: "a", kind: "run" },
      { channel: "c", name: "b", kind: "run" },
      { channel: "c", name: "a", kind: "run" },
    ]);
    expect(scopeOfTokenRequest(parsed)).toEqual({ channel: "c", topics: ["a", "b"] });
  });

  it("names the field of a bad token request or publish query", () => {
    const mixed = tokenRequestSchema.safeParse([
      { channel: "c", name: "a" },
      { channel: "d", name: "b" },
    ]);
    expect(mixed.success).toBe(false);
    expect(mixed.error?.issues[0]?.path).toEqual([1, "channel"]);
    const empty = tokenRequestSchema.safeParse([]);
    expect(empty.success).toBe(false);
    const noTopic = publishQuerySchema.safeParse({ channel: "c", topic: [] });
    expect(noTopic.error?.issues[0]?.path).toEqual(["topic"]);
    const noChannel = publishQuerySchema.safeParse({ topic: ["t"] });
    expect(noChannel.error?.issues[0]?.path).toEqual(["channel"]);
  });
});
