import { ManualClock, noopLogger } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { afterEach, describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
});

const napper = createFunction(
  { id: "napper", triggers: [{ event: "nap/start" }], retries: 0 },
  async ({ event, step }) => {
    await step.sleep("nap", "1h");
    return event.data.n;
  },
);

function make() {
  const clock = new ManualClock(Date.UTC(2026, 11, 1));
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 } }),
    { logger: noopLogger, clock, functions: [napper], dashboardDir: false },
  );
  runtimes.push(runtime);
  return { runtime, clock };
}

async function call(runtime: Runtime, method: string, url: string, body?: unknown) {
  const response = await runtime.app.request(url, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const fieldOf = (body: Record<string, unknown>) => (body.error as { field?: string }).field;

describe("dashboard API: function operations", () => {
  it("pauses and resumes a function; events while paused start no run", async () => {
    const { runtime } = make();
    const bad = await call(runtime, "POST", "/api/functions/napper/pause", { reason: 1 });
    expect(bad.status).toBe(400);
    expect(fieldOf(bad.body)).toBe("body.reason");
    expect((await call(runtime, "POST", "/api/functions/nope/pause", {})).status).toBe(404);

    expect(await call(runtime, "POST", "/api/functions/napper/pause", { reason: "x" })).toEqual({
      status: 200,
      body: { paused: true, changed: true },
    });
    expect((await call(runtime, "GET", "/api/paused")).body.data).toEqual([
      expect.objectContaining({ functionId: "napper", reason: "x" }),
    ]);
    const {
      ids: [skipped],
    } = await runtime.flows.send({ name: "nap/start", data: { n: 1 } });
    await runtime.flows.runDue();
    const detail = await call(runtime, "GET", `/api/events/${skipped}`);
    expect(detail.body.runs).toEqual([]);
    expect(detail.body.skipped).toEqual([expect.objectContaining({ reason: "paused" })]);

    expect((await call(runtime, "POST", "/api/functions/napper/resume")).body).toEqual({
      paused: false,
      changed: true,
    });
    await runtime.flows.send({ name: "nap/start", data: { n: 2 } });
    await runtime.flows.runDue();
    expect(await runtime.flows.listRuns({ functionId: "napper" })).toHaveLength(1);
  });

  it("bulk-cancels and bulk-replays a range; bad bodies change nothing", async () => {
    const { runtime, clock } = make();
    const from = clock.now();
    await runtime.flows.send([1, 2, 3].map((n) => ({ name: "nap/start", data: { n } })));
    await runtime.flows.runDue();
    await clock.advance(1000);
    const to = new Date(clock.now()).toISOString();

    for (const [body, field] of [
      [{ from }, "body.to"],
      [{ from, to: "soon" }, "body.to"],
      [{ from, to, if: "event.data.n ==" }, "body.if"],
      [{ from, to, extra: 1 }, "body"],
    ] as const) {
      const refused = await call(runtime, "POST", "/api/functions/napper/bulk-cancel", body);
      expect(refused.status).toBe(400);
      expect(fieldOf(refused.body)).toBe(field);
    }
    expect(await runtime.flows.listRuns({ functionId: "napper", status: "running" })).toHaveLength(
      3,
    );

    const cancelled = await call(runtime, "POST", "/api/functions/napper/bulk-cancel", {
      from,
      to,
      if: "event.data.n > 1",
    });
    expect(cancelled).toEqual({ status: 200, body: { cancelled: 2 } });

    const badReplay = await call(runtime, "POST", "/api/functions/napper/bulk-replay", {
      to,
      statuses: ["completed"],
    });
    expect(fieldOf(badReplay.body)).toBe("body.statuses[0]");
    const replayed = await call(runtime, "POST", "/api/functions/napper/bulk-replay", {
      from,
      to,
      statuses: ["cancelled"],
    });
    expect(replayed.status).toBe(200);
    const replays = replayed.body.replays as { runId: string; replayRunId: string }[];
    expect(replays).toHaveLength(2);
    for (const { runId, replayRunId } of replays) {
      const original = await runtime.flows.getRun(runId);
      const replay = await runtime.flows.getRun(replayRunId);
      expect(replay?.events).toEqual(original?.events);
    }
  });
});
