import { defineActor } from "@troupe/actors";
import { noopLogger, ulid } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime } from "../src/runtime.js";

// Real servers; these fail, not skip, when one is down.
const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const redisUrl = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => (ctx.state.count += by),
  },
});

async function increment(url: string, key: string): Promise<number> {
  const response = await fetch(`${url}/actors/Counter/${key}/increment`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ args: [1] }),
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { result: number }).result;
}

// The actor system on each server's Store and a queue of its own; each run uses its own actor
// key and queue names, so runs never see each other's data.
describe.each([
  [
    "postgres",
    (id: string) => ({ url: postgresUrl, schema: "troupe_runtime_test", queueName: id }),
  ],
  [
    "redis",
    (id: string) => ({ url: redisUrl, prefix: `troupe_runtime_test:${id}:`, queueName: id }),
  ],
] as const)("actors in the runtime on %s", (_name, storage) => {
  it("serves 50 concurrent REST increments exactly and keeps the count across a restart", async () => {
    const id = ulid().toLowerCase();
    const config: RuntimeConfigInput = { storage: storage(id), server: { port: 0 } };
    const open = () =>
      createRuntime(parseRuntimeConfig(config), {
        logger: noopLogger,
        inngest: false,
        dashboardDir: false,
        actors: { definitions: [Counter] },
      });
    const first = open();
    try {
      const { url } = await first.start();
      const results = await Promise.all(Array.from({ length: 50 }, () => increment(url, id)));
      expect([...results].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
    } finally {
      await first.stop();
    }
    const second = open();
    try {
      const { url } = await second.start();
      expect(await increment(url, id)).toBe(51);
    } finally {
      await second.stop();
    }
  });
});
