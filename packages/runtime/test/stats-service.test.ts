import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

const REGISTRY = `dimensions:
  strength: { use_pipeline: true, clamp_default: { min: 0, max: 1000 } }
  armor:    { use_pipeline: true, clamp_default: { min: 0, max: 1000 } }
`;
const TIGHTER = `dimensions:
  strength: { use_pipeline: true, clamp_default: { min: 0, max: 50 } }
  armor:    { use_pipeline: true, clamp_default: { min: 0, max: 1000 } }
`;

const scratch: string[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function registryFile(text = REGISTRY): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-stats-"));
  scratch.push(dir);
  const file = path.join(dir, "combiner.yaml");
  writeFileSync(file, text);
  return file;
}

async function started(registry: string, input: RuntimeConfigInput = {}, stats = {}) {
  const runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: "memory:" },
      server: { port: 0 },
      ...input,
      stats: {
        registry,
        systems: ["equipment", { id: "buffs", priority: 1 }],
        channel: `test.stats.${Math.random().toString(36).slice(2)}`,
        ...stats,
      },
    }),
    { logger: noopLogger, inngest: false, dashboardDir: false },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return { runtime, url };
}

const flat = (dimension: string, value: number) => ({ dimension, bucket: "FLAT", value });

async function call(url: string, method: string, body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function metric(url: string, line: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = text.split("\n").find((row) => row.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(line.length).trim());
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const value = await read();
    if (done(value) || attempt >= 200) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("stats service routes", () => {
  it("folds the outputs PUT per subsystem into the actor's snapshot, and DELETE removes one", async () => {
    const { url } = await started(registryFile());
    const actor = `${url}/stats/actors/hero-1`;
    const put = await call(`${actor}/subsystems/equipment`, "PUT", {
      primary: [flat("strength", 10), flat("armor", 5)],
    });
    expect(put.status).toBe(200);
    await call(`${actor}/subsystems/buffs`, "PUT", {
      primary: [{ dimension: "strength", bucket: "MULT", value: 0.5 }],
    });
    const read = await call(actor, "GET");
    expect(read.status).toBe(200);
    expect(read.body.primary).toEqual({ armor: 5, strength: 15 });

    expect((await call(`${actor}/subsystems/buffs`, "DELETE")).status).toBe(200);
    expect((await call(actor, "GET")).body.primary).toEqual({ armor: 5, strength: 10 });
    await call(`${actor}/subsystems/equipment`, "DELETE");
    const gone = await call(actor, "GET");
    expect(gone.status).toBe(404);
    expect(gone.body.message).toContain("hero-1");
  });

  it("explains a dimension from the stored outputs", async () => {
    const { url } = await started(registryFile());
    await call(`${url}/stats/actors/mage/subsystems/equipment`, "PUT", {
      primary: [flat("strength", 7)],
    });
    const explained = await call(`${url}/stats/actors/mage/explain/strength`, "GET");
    expect(explained.status).toBe(200);
    expect(explained.body.text).toContain("equipment");
    expect((explained.body.explanation as { actorId: string }).actorId).toBe("mage");
  });

  it("writes and reads in batches, each actor's result in its place", async () => {
    const { url } = await started(registryFile());
    const written = await call(`${url}/stats/actors`, "PUT", {
      writes: [
        { actorId: "a", system: "equipment", output: { primary: [flat("armor", 1)] } },
        { actorId: "b", system: "equipment", output: { primary: [flat("armor", 2)] } },
        { actorId: "b", system: "buffs", output: { primary: [flat("armor", 3)] } },
      ],
    });
    expect(written.status).toBe(200);
    expect((written.body.actors as unknown[]).length).toBe(2);
    const read = await call(`${url}/stats/actors?ids=b,nobody,a`, "GET");
    const results = read.body.results as {
      actorId: string;
      snapshot?: { primary: Record<string, number> };
      error?: { code: string };
    }[];
    expect(results.map((result) => result.actorId)).toEqual(["b", "nobody", "a"]);
    expect(results[0]?.snapshot?.primary.armor).toBe(5);
    expect(results[1]?.error?.code).toBe("NOT_FOUND");
    expect(results[2]?.snapshot?.primary.armor).toBe(1);
    const listed = await call(`${url}/stats/actors?limit=10`, "GET");
    expect(listed.body.actors).toEqual([
      { actorId: "a", version: expect.any(Number), systems: ["equipment"] },
      { actorId: "b", version: expect.any(Number), systems: ["buffs", "equipment"] },
    ]);
  });

  it("refuses bad input naming the field, and bodies over the limit", async () => {
    const { url } = await started(registryFile(), {}, { maxBodyBytes: 2_000 });
    const badValue = await call(`${url}/stats/actors/x/subsystems/equipment`, "PUT", {
      primary: [{ dimension: "strength", bucket: "FLAT", value: "ten" }],
    });
    expect(badValue.status).toBe(400);
    expect(badValue.body.message).toMatch(/^body\.primary\[0\]\.value/);
    const unknownSystem = await call(`${url}/stats/actors/x/subsystems/talent`, "PUT", {});
    expect(unknownSystem.status).toBe(400);
    expect(unknownSystem.body.message).toMatch(/^system: unknown subsystem "talent"/);
    const badBatch = await call(`${url}/stats/actors`, "PUT", {
      writes: [{ actorId: "x", system: "buffs", output: { primary: [flat("Bad Name", 1)] } }],
    });
    expect(badBatch.status).toBe(400);
    expect(badBatch.body.message).toMatch(/^body\.writes\[0\]\.output\.primary\[0\]\.dimension/);
    const huge = await call(`${url}/stats/actors/x/subsystems/equipment`, "PUT", {
      primary: Array.from({ length: 100 }, () => flat("strength", 1)),
    });
    expect(huge.status).toBe(413);
  });
});

describe("stats service caching and metrics", () => {
  it("serves repeat reads from L1, recomputes after a write, and reports actor_core_* metrics", async () => {
    const { url } = await started(registryFile());
    const actor = `${url}/stats/actors/knight`;
    await call(`${actor}/subsystems/equipment`, "PUT", { primary: [flat("armor", 3)] });
    const hitsBefore = await metric(url, 'actor_core_cache_hits_total{tier="l1"}');
    await call(actor, "GET");
    await call(actor, "GET");
    await call(actor, "GET");
    expect(await metric(url, 'actor_core_cache_hits_total{tier="l1"}')).toBe(hitsBefore + 2);
    await call(`${actor}/subsystems/equipment`, "PUT", { primary: [flat("armor", 4)] });
    expect((await call(actor, "GET")).body.primary).toEqual({ armor: 4 });
    expect(await metric(url, 'actor_core_invalidations_total{source="local"}')).toBe(2);
  });

  it("a second runtime on the same database is served from the L2 snapshot in the Store", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-stats-db-"));
    scratch.push(dir);
    const storage = { url: `sqlite:${path.join(dir, "stats.db")}` };
    const registry = registryFile();
    const first = await started(registry, { storage });
    await call(`${first.url}/stats/actors/rogue/subsystems/equipment`, "PUT", {
      primary: [flat("strength", 9)],
    });
    await call(`${first.url}/stats/actors/rogue`, "GET");
    await first.runtime.stop();
    const second = await started(registry, { storage });
    const read = await call(`${second.url}/stats/actors/rogue`, "GET");
    expect(read.body.primary).toEqual({ strength: 9 });
    expect(await metric(second.url, 'actor_core_cache_hits_total{tier="l2"}')).toBe(1);
  });
});

describe("stats registry files", () => {
  it("reloads a changed registry with a new epoch, and refuses a bad file keeping the old one", async () => {
    const registry = registryFile();
    const { runtime, url } = await started(registry);
    const service = runtime.stats;
    if (service === undefined) throw new Error("expected a stats service");
    await call(`${url}/stats/actors/ogre/subsystems/equipment`, "PUT", {
      primary: [flat("strength", 80)],
    });
    expect((await call(`${url}/stats/actors/ogre`, "GET")).body.primary).toEqual({ strength: 80 });
    const epoch = service.registryStatus().epoch;

    writeFileSync(registry, TIGHTER);
    const reloaded = await until(
      async () => service.registryStatus(),
      (status) => status.epoch > epoch,
    );
    expect(reloaded.epoch).toBe(epoch + 1);
    const clamped = await call(`${url}/stats/actors/ogre`, "GET");
    expect(clamped.body.primary).toEqual({ strength: 50 });
    expect(clamped.body.epoch).toBe(epoch + 1);

    writeFileSync(
      registry,
      "dimensions:\n  strength: { use_pipeline: true, clamp_default: { min: 10, max: 1 } }\n",
    );
    const refused = await until(
      async () => service.registryStatus(),
      (status) => status.lastError !== undefined,
    );
    expect(refused.lastError).toContain("strength");
    expect(refused.lastError).toContain("clamp_default");
    expect(refused.epoch).toBe(epoch + 1);
    expect((await call(`${url}/stats/actors/ogre`, "GET")).body.primary).toEqual({ strength: 50 });
    expect(
      await metric(url, 'actor_core_registry_reloads_total{result="refused"}'),
    ).toBeGreaterThan(0);
    expect(await metric(url, "actor_core_registry_epoch")).toBe(epoch + 1);
  });

  it("a bad registry file stops the start, naming the field", async () => {
    const registry = registryFile("dimensions:\n  strength: { use_pipeline: maybe }\n");
    await expect(started(registry)).rejects.toThrow(/use_pipeline/);
  });
});
