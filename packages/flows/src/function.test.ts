import { describe, expect, it } from "vitest";
import { createFunction, nextCronTick } from "./function.js";

describe("createFunction", () => {
  it("normalises triggers, cancelOn and timeouts", () => {
    const fn = createFunction(
      {
        id: "f",
        triggers: [{ event: "a", if: "event.data.x == 1" }, { cron: "TZ=Europe/Paris 0 9 * * 1" }],
        cancelOn: [{ event: "stop", match: "data.id", timeout: "1h" }],
        timeouts: { start: "5m", finish: "1h" },
      },
      async () => null,
    );
    expect(fn.definition).toEqual({
      id: "f",
      name: "f",
      retries: 4,
      triggers: [
        { event: "a", if: "event.data.x == 1" },
        { cron: "0 9 * * 1", timezone: "Europe/Paris" },
      ],
      cancelOn: [{ event: "stop", if: "event.data.id == async.data.id", timeoutMs: 3_600_000 }],
      startTimeoutMs: 300_000,
      finishTimeoutMs: 3_600_000,
    });
  });

  it("rejects bad definitions naming the field", () => {
    const handler = async () => null;
    expect(() => createFunction({ id: "bad id" }, handler)).toThrow(/function\.id/);
    expect(() => createFunction({ id: "f", retries: 21 }, handler)).toThrow(/function\.retries/);
    expect(() => createFunction({ id: "f", triggers: [{ cron: "nope" }] }, handler)).toThrow(
      /triggers\[0\]\.cron/,
    );
    expect(() =>
      createFunction({ id: "f", triggers: [{ event: "a", if: "event.data ==" }] }, handler),
    ).toThrow(/triggers\[0\]\.if/);
    expect(() =>
      createFunction({ id: "f", concurrency: [{ limit: 2 }, { limit: 0 }] }, handler),
    ).toThrow(/concurrency\[1\]\.limit/);
    expect(() =>
      createFunction({ id: "f", concurrency: { limit: 1, key: "event.data ==" } }, handler),
    ).toThrow(/concurrency\.key/);
    expect(() =>
      createFunction({ id: "f", throttle: { limit: 1, period: "10ms" } }, handler),
    ).toThrow(/throttle\.period/);
    expect(() =>
      createFunction({ id: "f", throttle: { limit: 0, period: "1s" } }, handler),
    ).toThrow(/throttle\.limit/);
    expect(() => createFunction({ id: "f", priority: { run: "1 +" } }, handler)).toThrow(
      /priority\.run/,
    );
  });
});

describe("nextCronTick", () => {
  it("follows the time zone across a daylight-saving change", () => {
    // 09:00 in Paris is 08:00Z in winter and 07:00Z after the switch on 2026-03-29.
    expect(nextCronTick("0 9 * * *", "Europe/Paris", Date.UTC(2026, 2, 28, 9))).toBe(
      Date.UTC(2026, 2, 29, 7),
    );
    expect(nextCronTick("0 9 * * *", "Europe/Paris", Date.UTC(2026, 0, 1))).toBe(
      Date.UTC(2026, 0, 1, 8),
    );
  });
});
