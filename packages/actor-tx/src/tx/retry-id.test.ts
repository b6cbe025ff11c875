import { describe, expect, it } from "vitest";
import { judgePrepare } from "./participant-state.js";
import { retryTxId } from "./retry-id.js";

describe("retryTxId", () => {
  const first = "01HZZZZZZZZZZZZZZZZZZZZZZ1";
  const later = "01HZZZZZZZZZZZZZZZZZZZZZZ2"; // a transaction started after the first attempt

  it("keeps the first attempt's id, then gives each attempt its own id", () => {
    const ids = [0, 1, 2, 35, 36, 1000].map((n) => retryTxId(first, n));
    expect(ids[0]).toBe(first);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it("keeps a retried transaction older than one started after its first attempt", () => {
    for (const attempt of [1, 2, 19, 500]) {
      expect(retryTxId(first, attempt) < later).toBe(true);
      const held = { value: 0, lock: { txId: later, deadline: 0, next: 0, results: [] } };
      // The retry waits for the younger holder instead of dying.
      expect(judgePrepare(held, retryTxId(first, attempt), 0)).toEqual({
        kind: "busy",
        holder: later,
        die: false,
      });
    }
  });
});
