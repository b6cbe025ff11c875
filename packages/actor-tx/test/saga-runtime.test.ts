import { noopLogger } from "@troupe/core";
import { NonRetriableError } from "@troupe/flows";
import { createRuntime, parseRuntimeConfig, type Runtime } from "@troupe/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { defineSaga, startSaga, waitForSaga } from "../src/index.js";

let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.stop();
  runtime = undefined;
});

describe("saga metrics on the runtime's /metrics", () => {
  it("counts steps, compensations and outcomes per saga", async () => {
    const saga = defineSaga<{ fail: boolean }>("checkout", {
      backoff: { baseMs: 0 },
      retries: 1,
      metrics: () => (runtime as Runtime).metrics, // the runtime exists only after createRuntime
      steps: [
        { name: "hold", run: () => "held", compensate: () => "released" },
        {
          name: "pay",
          run: ({ input, attempt }) => {
            if (input.fail) throw new NonRetriableError("card declined");
            if (attempt === 0) throw new Error("gateway timeout"); // retried once
            return "paid";
          },
        },
      ],
    });
    runtime = createRuntime(
      parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 } }),
      {
        logger: noopLogger,
        inngest: false,
        functions: [saga as never],
      },
    );
    await runtime.flows.start();
    const ok = await startSaga(runtime.flows, saga, { fail: false });
    expect(await waitForSaga(runtime.flows, ok.runId, { timeoutMs: 10_000 })).toMatchObject({
      status: "completed",
    });
    const declined = await startSaga(runtime.flows, saga, { fail: true });
    expect(await waitForSaga(runtime.flows, declined.runId, { timeoutMs: 10_000 })).toMatchObject({
      status: "compensated",
      compensated: ["hold"],
    });

    const text = await (await runtime.app.request("/metrics")).text();
    const value = (name: string) =>
      Number(new RegExp(`\\n${name}\\{saga="checkout"\\} (\\d+)\\n`).exec(text)?.[1] ?? Number.NaN);
    // hold ×2, pay ×2 in the first saga (one failed attempt), pay ×1 in the second.
    expect(value("actors_saga_steps_started_total")).toBe(5);
    expect(value("actors_saga_steps_completed_total")).toBe(3);
    expect(value("actors_saga_steps_failed_total")).toBe(2);
    expect(value("actors_saga_compensations_started_total")).toBe(1);
    expect(value("actors_saga_compensations_completed_total")).toBe(1);
    expect(value("actors_saga_completed_total")).toBe(1);
    expect(value("actors_saga_compensated_total")).toBe(1);
    expect(text).toContain("# HELP actors_saga_compensation_failed_total");
  });
});
