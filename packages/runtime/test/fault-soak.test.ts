import { describe, expect, it } from "vitest";
import { runFaultSoak } from "./fault-soak.js";

// Real servers; the test fails, not skips, when they are down.
const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

describe("fault soak (short): 3 troupe start nodes on PostgreSQL + NATS, one SIGKILLed at a time", () => {
  it("loses no acknowledged event or increment, runs each event once, and no call waits past 2 × lease", async () => {
    const report = await runFaultSoak({
      postgresUrl,
      natsUrl,
      durationMs: Number(process.env.TROUPE_SOAK_MS ?? 60_000),
      killEveryMs: 4000,
      eventSenders: 2,
      actorCallers: 2,
      log: (line) => console.log(`[soak] ${line}`),
    });
    console.log(`[soak] ${JSON.stringify(report)}`);
    expect(report.kills).toBeGreaterThan(0);
    expect(report.eventsAcked).toBeGreaterThan(0);
    expect(report.actorCallsAcked).toBeGreaterThan(0);
    expect(report.eventProblems).toEqual([]);
    expect(report.counterProblems).toEqual([]);
    expect(report.runsCompleted).toBeGreaterThanOrEqual(report.eventsAcked);
    expect(report.maxCallWaitMs).toBeLessThanOrEqual(report.callWaitBoundMs);
  }, 300_000);
});
