import { ManualClock } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createCheckpointInbox } from "./checkpoint.js";

describe("checkpoint inbox", () => {
  it("hands a run's steps over once, in the order they arrived", () => {
    const inbox = createCheckpointInbox(new ManualClock(0));
    inbox.put("r1", [{ id: "a" }]);
    inbox.put("r1", [{ id: "b" }]);
    inbox.put("r2", [{ id: "c" }]);
    expect(inbox.take("r1")).toEqual([{ id: "a" }, { id: "b" }]);
    expect(inbox.take("r1")).toEqual([]);
    expect(inbox.size()).toBe(1);
  });

  it("drops entries no call came back for", async () => {
    const clock = new ManualClock(0);
    const inbox = createCheckpointInbox(clock, 1000);
    inbox.put("stray", [{ id: "a" }]);
    await clock.advance(1500);
    inbox.put("fresh", [{ id: "b" }]);
    expect(inbox.take("stray")).toEqual([]);
    expect(inbox.take("fresh")).toEqual([{ id: "b" }]);
  });
});
