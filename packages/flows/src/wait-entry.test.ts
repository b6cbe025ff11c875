import { describe, expect, it } from "vitest";
import { decodeWaitEntry, encodeWaitEntry, type WaitEntry } from "./wait-entry.js";

describe("wait entry codec", () => {
  it("stores short fields and reads them back as named ones", () => {
    const entry: WaitEntry = {
      kind: "wait",
      runId: "R",
      hash: "H",
      condition: "async.data.id == event.data.id",
      triggerEvent: { id: "E", name: "a", data: { id: 1 }, ts: 5 },
      expiresAt: 10,
    };
    const bytes = encodeWaitEntry(entry);
    expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual({
      k: "w",
      r: "R",
      h: "H",
      if: "async.data.id == event.data.id",
      ev: { id: "E", name: "a", data: { id: 1 }, ts: 5 },
      exp: 10,
    });
    expect(decodeWaitEntry(bytes)).toEqual(entry);
    const cancel: WaitEntry = { kind: "cancel", runId: "R", expiresAt: 3 };
    expect(decodeWaitEntry(encodeWaitEntry(cancel))).toEqual(cancel);
  });
});
