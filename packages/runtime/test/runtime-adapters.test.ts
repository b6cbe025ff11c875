import { noopLogger, ulid } from "@troupe/core";
import { createFunction } from "@troupe/flows";
import { waitFor } from "@troupe/testkit";
import { describe, expect, it } from "vitest";
import { parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";

const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

// The whole composition on each server: an event in, a two-step function run to completion by
// the runtime's worker, then a clean stop. Each run has its own queue (and Redis prefix).
describe.each([
  [
    "postgres",
    (id: string) => ({ url: postgresUrl, schema: "troupe_runtime_test", queueName: id }),
  ],
  [
    "redis",
    (id: string) => ({ url: redisUrl, prefix: `troupe_runtime_test:${id}:`, queueName: id }),
  ],
] as const)("createRuntime on %s", (_name, storage) => {
  it("runs a function to completion and stops cleanly", async () => {
    const id = ulid().toLowerCase();
    const twoSteps = createFunction(
      { id: `adapters-${id}`, triggers: [{ event: `adapters/${id}` }] },
      async ({ step }) => {
        const one = await step.run("one", () => 1);
        return step.run("two", () => one + 1);
      },
    );
    const config: RuntimeConfigInput = {
      storage: storage(id),
      server: { port: 0 },
      flows: { pollIntervalMs: 20 },
    };
    const runtime = createRuntime(parseRuntimeConfig(config), {
      logger: noopLogger,
      functions: [twoSteps],
    });
    try {
      await runtime.start();
      await runtime.flows.send({ name: `adapters/${id}`, data: {} });
      await waitFor(
        async () =>
          (await runtime.flows.listRuns({ functionId: `adapters-${id}`, status: "completed" }))
            .length === 1,
        { timeoutMs: 15_000, what: "the run to complete" },
      );
      const [run] = await runtime.flows.listRuns({ functionId: `adapters-${id}` });
      expect((await runtime.flows.getRun(run?.id ?? ""))?.output).toBe(2);
    } finally {
      await runtime.stop();
    }
  });
});
