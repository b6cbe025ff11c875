import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import { afterAll, describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const postgresUrl = process.env.TROUPE_TEST_POSTGRES_URL;
if (postgresUrl === undefined) throw new Error("TROUPE_TEST_POSTGRES_URL must be set");

const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-stats-cluster-"));
const registry = path.join(dir, "combiner.yaml");
writeFileSync(
  registry,
  "dimensions:\n  strength: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } }\n",
);
const runtimes: Runtime[] = [];
afterAll(async () => {
  await Promise.all(runtimes.map((runtime) => runtime.stop()));
  rmSync(dir, { recursive: true, force: true });
});

const run = Math.random().toString(36).slice(2);

async function node(): Promise<string> {
  const runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: postgresUrl, schema: "troupe_runtime_test", queueName: `stats-${run}` },
      server: { port: 0 },
      // A long TTL: the test shows the invalidation message at work, not the expiry.
      stats: {
        registry,
        systems: ["gear"],
        channel: `test.stats.${run}`,
        cache: { ttlMs: 600_000 },
      },
    }),
    { logger: noopLogger, inngest: false, dashboardDir: false },
  );
  runtimes.push(runtime);
  return (await runtime.start()).url;
}

async function strength(url: string, actor: string): Promise<number> {
  const response = await fetch(`${url}/stats/actors/${actor}`);
  const body = (await response.json()) as { primary: Record<string, number> };
  return body.primary.strength ?? Number.NaN;
}

async function put(url: string, actor: string, value: number): Promise<void> {
  const response = await fetch(`${url}/stats/actors/${actor}/subsystems/gear`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ primary: [{ dimension: "strength", bucket: "FLAT", value }] }),
  });
  expect(response.status).toBe(200);
}

describe("stats across two runtime processes on PostgreSQL", () => {
  it("a write on one runtime is seen by the other, whose L1 held the old snapshot", async () => {
    const [a, b] = [await node(), await node()];
    const actor = `hero-${run}`;
    await put(a, actor, 10);
    expect(await strength(b, actor)).toBe(10); // now cached in b's L1
    expect(await strength(b, actor)).toBe(10);
    await put(a, actor, 20);
    // The bound: the PubSub message's delivery (LISTEN/NOTIFY, milliseconds); polled, not timed.
    let seen = Number.NaN;
    for (let attempt = 0; attempt < 200 && seen !== 20; attempt++) {
      seen = await strength(b, actor);
      if (seen !== 20) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(seen).toBe(20);
    // And back the other way.
    await put(b, actor, 30);
    let back = Number.NaN;
    for (let attempt = 0; attempt < 200 && back !== 30; attempt++) {
      back = await strength(a, actor);
      if (back !== 30) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(back).toBe(30);
  });
});
