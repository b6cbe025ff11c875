import { createJsonCodec, type StoreOp } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { flowKeys } from "../keys.js";
import { decodeExpiryEntry, expiryKeys, expiryOpsForCommit } from "./expiry-index.js";

const codec = createJsonCodec<unknown>();
const prefix = "t/";
const keys = flowKeys(prefix);
const settings = { prefix, eventsMs: 1000, runsMs: 2000, dedupeWindowMs: 500 };
const set = (key: string, value: unknown = {}): StoreOp => ({
  type: "set",
  key,
  value: codec.encode(value),
});
const A = "01JGZ0000000000000000000AA";
const B = "01JGZ0000000000000000000BB";
const OLD = "01JGY0000000000000000000CC";

describe("expiryOpsForCommit", () => {
  it("files each event with its by-name entry and skip records, dedupe ids by their window", () => {
    const ops = [
      set(keys.dedupe("order-1"), { eventId: A, at: 100 }),
      set(keys.event(A)),
      set(keys.eventByName("order/placed", A)),
      set(keys.event(B)),
      set(keys.eventByName("a/b c", B)),
      set(keys.eventSkip(A, "fn")),
      set(keys.eventSkip(OLD, "fn")),
      set(keys.run("R1")),
      { type: "delete", key: keys.marker("M") } as const,
    ];
    const index = expiryKeys(prefix);
    const entries = expiryOpsForCommit(ops, 100, settings).map((op) => {
      if (op.type !== "set") throw new Error("expected sets only");
      const entry = decodeExpiryEntry(index.base, { key: op.key, value: op.value, version: 1 });
      if (!entry) throw new Error(`undecodable ${op.key}`);
      return entry;
    });
    expect(entries.map(({ kind, at, id, keys: listed }) => ({ kind, at, id, listed }))).toEqual([
      { kind: "dedupe", at: 600, id: A, listed: [keys.dedupe("order-1")] },
      { kind: "skip", at: 1100, id: `${OLD}/fn`, listed: [keys.eventSkip(OLD, "fn")] },
      {
        kind: "event",
        at: 1100,
        id: A,
        listed: [keys.event(A), keys.eventByName("order/placed", A), keys.eventSkip(A, "fn")],
      },
      {
        kind: "event",
        at: 1100,
        id: B,
        listed: [keys.event(B), keys.eventByName("a/b c", B)],
      },
    ]);
  });

  it("adds nothing to a commit that stores no event, skip or dedupe id", () => {
    expect(expiryOpsForCommit([set(keys.run("R1")), set(keys.runAll("R1"))], 5, settings)).toEqual(
      [],
    );
  });

  it("sorts entries by expiry, so the due ones are one range", () => {
    const index = expiryKeys(prefix);
    const early = index.entry(999, "run", "Z");
    const late = index.entry(1000, "event", "A");
    expect(early < late).toBe(true);
    expect(early < index.dueEnd(999)).toBe(true);
    expect(late < index.dueEnd(999)).toBe(false);
  });
});
