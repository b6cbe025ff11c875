import { describe, expect, it } from "vitest";
import { DEFAULT_RETENTION, resolveRetention } from "./retention-options.js";

describe("resolveRetention", () => {
  it("keeps runs and events 7 days by default, and nothing is swept when off", () => {
    expect(resolveRetention(undefined, "retention")).toEqual(DEFAULT_RETENTION);
    expect(DEFAULT_RETENTION.eventsMs).toBe(7 * 86_400_000);
    expect(DEFAULT_RETENTION.runsMs).toBe(7 * 86_400_000);
    expect(resolveRetention(false, "retention")).toBeUndefined();
  });

  it("reads durations as text or ms", () => {
    const settings = resolveRetention({ events: "2d", runs: 3 * 3_600_000 }, "retention");
    expect(settings?.eventsMs).toBe(2 * 86_400_000);
    expect(settings?.runsMs).toBe(3 * 3_600_000);
  });

  it("names the bad field", () => {
    expect(() => resolveRetention({ events: "5m" }, "flows.retention")).toThrow(
      /flows\.retention\.events/,
    );
    expect(() => resolveRetention({ runs: "soon" }, "flows.retention")).toThrow(
      /flows\.retention\.runs/,
    );
    expect(() => resolveRetention({ batchSize: 0 }, "flows.retention")).toThrow(
      /flows\.retention\.batchSize/,
    );
    expect(() =>
      resolveRetention({ evnts: "2d" } as unknown as { events: string }, "flows.retention"),
    ).toThrow(/evnts/);
  });
});
