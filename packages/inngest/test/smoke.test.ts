import { Inngest } from "inngest";
import { serve } from "inngest/node";
import { afterEach, expect, it } from "vitest";
import { finishedRuns, startApp, startTroupe } from "./harness.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Troupe and a v4 app with one two-step function, synced. */
async function setUp(options: Parameters<typeof startTroupe>[0] = {}) {
  const troupe = await startTroupe(options);
  cleanups.push(() => troupe.close());
  const client = new Inngest({ id: "smoke", isDev: true, baseUrl: troupe.url, logger: silent });
  const hello = client.createFunction(
    { id: "hello", triggers: [{ event: "demo/hello" }] },
    async ({ event, step }) => {
      const a = await step.run("a", () => `hi ${event.data.name}`);
      const b = await step.run("b", () => a.toUpperCase());
      return { a, b };
    },
  );
  const app = await startApp(serve({ client, functions: [hello] }));
  cleanups.push(() => app.close());
  expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true, modified: true });
  return { troupe, client };
}

it("runs a two-step function and reports its output", async () => {
  const { troupe, client } = await setUp();
  const { ids } = await client.send({ name: "demo/hello", data: { name: "ada" } });
  const [run] = await finishedRuns(troupe.url, ids[0] ?? "");
  expect(run).toMatchObject({ status: "Completed", output: { a: "hi ada", b: "HI ADA" } });
});

it("lets the SDK fetch events and step results through /v0 when a call body is too large", async () => {
  let largeBodies = 0;
  const watchingFetch: typeof fetch = (input, init) => {
    if (typeof init?.body === "string" && init.body.includes('"use_api":true')) largeBodies += 1;
    return fetch(input, init);
  };
  const { troupe, client } = await setUp({ maxRequestBodyBytes: 100, fetch: watchingFetch });
  const { ids } = await client.send({ name: "demo/hello", data: { name: "grace" } });
  const [run] = await finishedRuns(troupe.url, ids[0] ?? "");
  expect(run).toMatchObject({ status: "Completed", output: { a: "hi grace", b: "HI GRACE" } });
  expect(largeBodies).toBeGreaterThan(0);
});

it("applies checkpoints kept in the Store (several processes behind one address)", async () => {
  const { troupe, client } = await setUp({ checkpointing: true, sharedCheckpoints: true });
  const { ids } = await client.send({ name: "demo/hello", data: { name: "lin" } });
  const [run] = await finishedRuns(troupe.url, ids[0] ?? "");
  expect(run).toMatchObject({ status: "Completed", output: { a: "hi lin", b: "HI LIN" } });
  const view = await troupe.flows.getRun(run?.run_id ?? "");
  expect(view?.steps.map((step) => step.id)).toEqual(["a", "b"]);
  expect(await troupe.store.list({ prefix: "inngest/cp/" })).toEqual([]);
});
