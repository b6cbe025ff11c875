import { describe, expect, it } from "vitest";
import { configFromEnv, parseRuntimeConfig } from "./config.js";
import { flowsRetention } from "./retention-config.js";

describe("retention config", () => {
  it("is absent by default (the engine keeps runs and events 7 days)", () => {
    expect(parseRuntimeConfig({}).retention).toBeUndefined();
  });

  it("takes durations from the file or the environment and turns off with enabled: false", () => {
    const config = parseRuntimeConfig({ retention: { events: "3d", runs: 36 * 3_600_000 } });
    expect(config.retention && flowsRetention(config.retention)).toEqual({
      events: "3d",
      runs: 36 * 3_600_000,
    });
    const { config: fromEnv, sources } = configFromEnv({ TROUPE_RETENTION_RUNS: "14d" });
    const parsed = parseRuntimeConfig(fromEnv, sources);
    expect(parsed.retention && flowsRetention(parsed.retention)).toEqual({ runs: "14d" });
    const off = parseRuntimeConfig({ retention: { enabled: false, events: "3d" } });
    expect(off.retention && flowsRetention(off.retention)).toBe(false);
  });

  it("names the bad field", () => {
    expect(() => parseRuntimeConfig({ retention: { events: "5m" } })).toThrow(
      /retention\.events: expected a duration between 1h and 3650d/,
    );
    expect(() => parseRuntimeConfig({ retention: { runs: "often" } })).toThrow(/retention\.runs/);
    expect(() => parseRuntimeConfig({ retention: { batchSize: 0 } })).toThrow(
      /retention\.batchSize/,
    );
    expect(() => parseRuntimeConfig({ retention: { keep: "1d" } })).toThrow(/retention/);
    const { config, sources } = configFromEnv({ TROUPE_RETENTION_EVENTS: "1m" });
    expect(() => parseRuntimeConfig(config, sources)).toThrow(/TROUPE_RETENTION_EVENTS/);
  });
});
