import { createMemoryStore, ManualClock } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createCheckpointInbox, createStoreCheckpointInbox } from "./checkpoint.js";

describe("checkpoint inbox", () => {
  for (const [label, make] of [
    ["in memory", (clock: ManualClock) => createCheckpointInbox(clock)],
    [
      "in the Store",
      (clock: ManualClock) => createStoreCheckpointInbox(createMemoryStore(), "inngest/", clock),
    ],
  ] as const) {
    it(`hands a run's steps over once, in the order they arrived (${label})`, async () => {
      const inbox = make(new ManualClock(0));
      await inbox.put("r1", [{ id: "a" }]);
      await inbox.put("r1", [{ id: "b" }]);
      await inbox.put("r2", [{ id: "c" }]);
      expect(await inbox.take("r1")).toEqual([{ id: "a" }, { id: "b" }]);
      expect(await inbox.take("r1")).toEqual([]);
      expect(await inbox.take("r2")).toEqual([{ id: "c" }]);
    });
  }

  it("drops in-memory entries no call came back for", async () => {
    const clock = new ManualClock(0);
    const inbox = createCheckpointInbox(clock, 1000);
    await inbox.put("stray", [{ id: "a" }]);
    await clock.advance(1500);
    await inbox.put("fresh", [{ id: "b" }]);
    expect(await inbox.take("stray")).toEqual([]);
    expect(await inbox.take("fresh")).toEqual([{ id: "b" }]);
  });

  it("lets one process take what another put, through a shared Store", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(0);
    await createStoreCheckpointInbox(store, "p/", clock).put("r", [{ id: "a" }]);
    expect(await createStoreCheckpointInbox(store, "p/", clock).take("r")).toEqual([{ id: "a" }]);
  });
});
