// A stranger's program: it installs Troupe's packed tarballs from an empty folder and uses only
// their published entry points. CI type-checks it with `tsc --strict --module nodenext`, then runs
// it: flows on SQLite, stats with the sample registry the package ships, actors on SQLite, and
// the runtime serving the installed dashboard.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { createActorSystem, defineActor } from "@troupe/actors";
import { systemClock } from "@troupe/core";
import { createFlows, createFunction } from "@troupe/flows";
import { createRuntime, parseRuntimeConfig } from "@troupe/runtime";
import { createSqliteQueue, createSqliteStore, openSqliteDatabase } from "@troupe/sqlite";
import { createStatsAggregator, parseCombinerRegistry } from "@troupe/stats";
import { z } from "zod";

const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-consumer-"));

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function flowsOnSqlite(): Promise<void> {
  const file = path.join(dir, "flows.db");
  const welcome = createFunction(
    { id: "welcome", triggers: [{ event: "user/created" }] },
    async ({ event, step }) => {
      const greeting = await step.run("greet", () => `Hello, ${String(event.data.name)}!`);
      await step.sleep("pause", "10ms");
      return step.run("shout", () => greeting.toUpperCase());
    },
  );
  const flows = createFlows({
    store: createSqliteStore({ path: file }),
    queue: createSqliteQueue({ path: file, clock: systemClock, queueName: "flows" }),
    functions: [welcome],
  });
  await flows.start();
  await flows.send({ name: "user/created", data: { name: "Ada" } });
  const output = await until("the welcome run", async () => {
    const [run] = await flows.listRuns({ functionId: "welcome" });
    if (run?.status !== "completed") return undefined;
    return (await flows.getRun(run.id))?.output;
  });
  assert.equal(output, "HELLO, ADA!");
  await flows.stop();
  console.log("flows on SQLite: a run with a step, a sleep and a step completed");
}

async function stats(): Promise<void> {
  // The sample registry ships in the package, beside its build.
  const manifest = createRequire(import.meta.url).resolve("@troupe/stats/package.json");
  const registryFile = path.join(path.dirname(manifest), "examples", "Registry.example.yml");
  const combiner = parseCombinerRegistry(readFileSync(registryFile, "utf8"), registryFile);
  assert.ok(Object.keys(combiner.dimensions).length > 0);
  const aggregator = createStatsAggregator({
    combiner: {
      dimensions: { strength: { use_pipeline: true, clamp_default: { min: 0, max: 999 } } },
    },
    subsystems: [
      {
        id: "items",
        contribute: () => ({
          primary: [
            { dimension: "strength", bucket: "FLAT", value: 50, system: "items" },
            { dimension: "strength", bucket: "MULT", value: 0.2, system: "items" },
          ],
          derived: [],
          caps: [],
          meta: { system: "items" },
        }),
      },
    ],
  });
  const snapshot = await aggregator.resolve({
    id: "hero",
    name: "Hero",
    race: "elf",
    lifespan: 900,
    age: 120,
    created_at: 0,
    updated_at: 0,
    version: 1,
    subsystems: ["items"],
    data: {},
  });
  assert.equal(snapshot.primary.strength, 60);
  console.log("stats: resolved strength 60 from FLAT 50 × MULT 1.2");
}

async function actorsOnSqlite(): Promise<void> {
  const database = openSqliteDatabase(path.join(dir, "actors.db"));
  const Counter = defineActor({
    name: "Counter",
    key: "string",
    state: z.object({ count: z.number().int() }),
    initialState: () => ({ count: 0 }),
    actions: {
      increment(ctx, by: number) {
        ctx.state.count += by;
        return ctx.state.count;
      },
    },
  });
  const store = createSqliteStore({ database });
  const queue = createSqliteQueue({ database, queueName: "actors", clock: systemClock });
  const system = createActorSystem({ store, queue, actors: [Counter] });
  const alice = system.get(Counter, "alice");
  await Promise.all([alice.increment(1), alice.increment(2)]);
  assert.equal(await alice.increment(0), 3);
  await system.close();
  await Promise.all([store.close(), queue.close()]);
  database.close();
  console.log("actors on SQLite: three increments in turn, state 3");
}

async function runtimeWithDashboard(): Promise<void> {
  const config = parseRuntimeConfig({
    storage: { url: "memory:" },
    server: { port: 0 },
    log: { level: "silent" },
  });
  const runtime = createRuntime(config);
  assert.ok(runtime.dashboardDir, "createRuntime found no dashboard in node_modules");
  const page = await runtime.app.request("/", { headers: { accept: "text/html" } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  await runtime.stop();
  console.log(`runtime: serves the installed dashboard from ${runtime.dashboardDir}`);
}

await flowsOnSqlite();
await stats();
await actorsOnSqlite();
await runtimeWithDashboard();
console.log("consumer: ok");
