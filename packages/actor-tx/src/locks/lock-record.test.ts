import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FREE,
  type LockMode,
  type LockRecord,
  releaseLock,
  renewLock,
  requestLock,
} from "./lock-record.js";

const ask = (record: LockRecord, owner: string, mode: LockMode, now = 0) =>
  requestLock(record, { owner, mode, node: "n" }, now, 100);

describe("lock record transitions", () => {
  it("lets readers share and keeps a writer alone", () => {
    const r1 = ask(FREE, "a", "shared");
    if (!r1.granted) throw new Error("a");
    const r2 = ask(r1.record, "b", "shared");
    if (!r2.granted) throw new Error("b");
    expect(ask(r2.record, "c", "exclusive")).toEqual({ granted: false, blockers: ["a", "b"] });
    const w = ask(FREE, "w", "exclusive");
    if (!w.granted) throw new Error("w");
    expect(ask(w.record, "r", "shared")).toEqual({ granted: false, blockers: ["w"] });
  });

  it("releases a dead holder at its lease end", () => {
    const held = ask(FREE, "a", "exclusive", 0);
    if (!held.granted) throw new Error("a");
    expect(ask(held.record, "b", "exclusive", 99).granted).toBe(false);
    const later = ask(held.record, "b", "exclusive", 100);
    expect(later.granted && later.holder.token).toBe(2);
    expect(renewLock(held.record, "a", 1, 100, 100)).toBeUndefined();
    expect(renewLock(held.record, "a", 1, 50, 100)?.holders[0]?.leaseUntil).toBe(150);
  });

  it("issues strictly increasing fencing tokens over any sequence of grants and releases", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            owner: fc.constantFrom("a", "b", "c"),
            mode: fc.constantFrom<LockMode>("shared", "exclusive"),
            release: fc.boolean(),
            dt: fc.integer({ min: 0, max: 60 }),
          }),
          { maxLength: 60 },
        ),
        (steps) => {
          let record = FREE;
          let now = 0;
          let last = 0;
          for (const step of steps) {
            now += step.dt;
            const result = ask(record, step.owner, step.mode, now);
            if (result.granted) {
              expect(result.holder.token).toBeGreaterThan(last);
              last = result.holder.token;
              record = result.record;
              if (step.release)
                record = releaseLock(record, step.owner, result.holder.token, now).record;
            }
            const exclusive = record.holders.filter(
              (h) => h.leaseUntil > now && h.mode === "exclusive",
            );
            const live = record.holders.filter((h) => h.leaseUntil > now);
            if (exclusive.length > 0) expect(live.length).toBe(1);
          }
        },
      ),
    );
  });
});
