import { Inngest } from "inngest";
import { serve } from "inngest/node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { finishedRuns, startApp, startTroupe } from "./harness.js";

let troupe: Awaited<ReturnType<typeof startTroupe>>;
let app: Awaited<ReturnType<typeof startApp>>;
let client: Inngest;

beforeAll(async () => {
  troupe = await startTroupe();
  client = new Inngest({ id: "smoke", isDev: true, baseUrl: troupe.url });
  const hello = client.createFunction(
    { id: "hello", triggers: [{ event: "demo/hello" }] },
    async ({ event, step }) => {
      const a = await step.run("a", () => `hi ${event.data.name}`);
      const b = await step.run("b", () => a.toUpperCase());
      return { a, b };
    },
  );
  app = await startApp(serve({ client, functions: [hello] }));
  const sync = await troupe.api.syncApp(app.url);
  expect(sync).toMatchObject({ ok: true, modified: true });
});

afterAll(async () => {
  await app?.close();
  await troupe?.close();
});

it("runs a two-step function and reports its output", async () => {
  const { ids } = await client.send({ name: "demo/hello", data: { name: "ada" } });
  const [run] = await finishedRuns(troupe.url, ids[0] ?? "");
  expect(run).toMatchObject({ status: "Completed", output: { a: "hi ada", b: "HI ADA" } });
});
