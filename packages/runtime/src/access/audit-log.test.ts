import { createMemoryStore, ManualClock, noopLogger } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createAuditLog } from "./audit-log.js";

const DAY = 24 * 3600 * 1000;

function setup() {
  const store = createMemoryStore();
  const clock = new ManualClock(1_700_000_000_000);
  const log = createAuditLog({ store, clock, logger: noopLogger, retentionMs: 7 * DAY });
  return { store, clock, log };
}

const entry = (token: string, operation: string, target = "/x") => ({
  token,
  source: "127.0.0.1",
  operation,
  target,
  status: 200,
});

describe("audit log", () => {
  it("answers newest first, filtered by time, token and operation, in pages", async () => {
    const { clock, log } = setup();
    const t0 = clock.now();
    await log.append(entry("ops", "POST /api/runs/:id/cancel", "/api/runs/1/cancel"));
    await clock.advance(1000);
    await log.append(entry("ci", "POST /api/events/:id/replay"));
    await clock.advance(1000);
    await log.append(entry("ops", "POST /api/runs/:id/rerun"));
    await log.append(entry("ops", "DELETE /api/tokens/:id"));

    const all = await log.query({});
    expect(all.data.map((e) => e.operation)).toEqual([
      "DELETE /api/tokens/:id",
      "POST /api/runs/:id/rerun",
      "POST /api/events/:id/replay",
      "POST /api/runs/:id/cancel",
    ]);
    expect((await log.query({ token: "ci" })).data).toHaveLength(1);
    expect((await log.query({ operation: "POST /api/runs/*" })).data).toHaveLength(2);
    expect((await log.query({ from: t0 + 1000, to: t0 + 2000 })).data.map((e) => e.token)).toEqual([
      "ci",
    ]);
    const first = await log.query({ limit: 3 });
    expect(first.data).toHaveLength(3);
    const rest = await log.query({ limit: 3, cursor: first.cursor });
    expect(rest.data.map((e) => e.operation)).toEqual(["POST /api/runs/:id/cancel"]);
  });

  it("sweeps entries older than the retention, in bounded batches", async () => {
    const { store, clock, log } = setup();
    for (let i = 0; i < 5; i++) await log.append(entry("ops", `op${i}`));
    await clock.advance(8 * DAY);
    await log.append(entry("ops", "recent"));
    expect(await log.sweep(2)).toBe(2);
    expect(await log.sweep(10)).toBe(3);
    expect(await log.sweep(10)).toBe(0);
    const left = await store.list({ prefix: "runtime/audit/" });
    expect(left).toHaveLength(1);
  });
});
