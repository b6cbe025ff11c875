import { waitFor } from "@troupe/testkit";
import { Inngest } from "inngest";
import { connect } from "inngest/connect";
import { Inngest as InngestV3 } from "inngest-v3";
import { connect as connectV3 } from "inngest-v3/connect";
import { afterAll, describe, expect, it } from "vitest";
import { finishedRuns, runsOf, startTroupe } from "./harness.js";
import type { LifecycleBackend } from "./lifecycle-suite.js";
import "./realtime-subscriber.js";

const silent = { info() {}, warn() {}, error() {}, debug() {} };

interface Worker {
  close(): Promise<void>;
}

type Handler = (ctx: {
  event: { data: Record<string, unknown> };
  step: {
    run<T>(id: string, fn: () => T): Promise<T>;
    sleep(id: string, duration: string): Promise<void>;
  };
}) => Promise<unknown>;

/** An official app that connects outbound (`inngest/connect`) instead of being served. */
async function startWorker(
  baseUrl: string,
  counters: Map<string, number>,
  sdk: "v4" | "v3",
): Promise<Worker> {
  const bump = (key: string) => counters.set(key, (counters.get(key) ?? 0) + 1);
  const handler: Handler = async ({ event, step }) => {
    const hello = await step.run("hello", () => {
      bump(`hello-${event.data.n}`);
      return `hello ${event.data.who}`;
    });
    await step.sleep("nap", String(event.data.nap ?? "1ms"));
    const loud = await step.run("loud", () => {
      bump(`loud-${event.data.n}`);
      return hello.toUpperCase();
    });
    return { hello, loud };
  };
  const options = { isolateExecution: false, handleShutdownSignals: [] };
  if (sdk === "v3") {
    const client = new InngestV3({ id: "connected", baseUrl, isDev: true, logger: silent });
    const greet = client.createFunction({ id: "greet" }, { event: "demo/greet" }, handler as never);
    const connection = await connectV3({
      apps: [{ client, functions: [greet] }],
      ...options,
    } as unknown as Parameters<typeof connectV3>[0]);
    return { close: () => connection.close() };
  }
  const client = new Inngest({ id: "connected", baseUrl, isDev: true, logger: silent });
  const greet = client.createFunction(
    { id: "greet", triggers: [{ event: "demo/greet" }] },
    handler as never,
  );
  const connection = await connect({
    apps: [{ client, functions: [greet] }],
    ...options,
  } as unknown as Parameters<typeof connect>[0]);
  return { close: () => connection.close() };
}

/** Connect workers on one backend: sync and steps over the socket, worker and server restarts. */
export function describeConnect(
  backend: LifecycleBackend,
  sdk: "v4" | "v3" = "v4",
  options: { readonly restarts?: boolean } = {},
): void {
  describe(`inngest ${sdk} Connect worker on a ${backend.label}-backed Troupe`, () => {
    afterAll(() => backend.cleanup());

    it("syncs the worker's functions over the connection and runs their steps through it", async () => {
      const troupe = await startTroupe(backend.open("connect-basic"));
      const counters = new Map<string, number>();
      const worker = await startWorker(troupe.url, counters, sdk);
      try {
        await waitFor(() => troupe.api.apps().some((app) => app.appName === "connected"), {
          what: "the worker's app to sync",
        });
        const response = await fetch(`${troupe.url}/e/key`, {
          method: "POST",
          body: JSON.stringify({ name: "demo/greet", data: { who: "troupe", n: 1 } }),
        });
        const { ids } = (await response.json()) as { ids: string[] };
        const [run] = await finishedRuns(troupe.url, ids[0] ?? "", { timeoutMs: 15_000 });
        expect(run).toMatchObject({
          status: "Completed",
          output: { hello: "hello troupe", loud: "HELLO TROUPE" },
        });
        expect(counters.get("hello-1")).toBe(1);
        expect(counters.get("loud-1")).toBe(1);
      } finally {
        await worker.close();
        await troupe.close();
      }
    });

    it.runIf(options.restarts ?? true)(
      "keeps a run in flight across a worker restart and a server restart",
      async () => {
        let troupe = await startTroupe(backend.open("connect-restart"));
        const port = Number(new URL(troupe.url).port);
        const counters = new Map<string, number>();
        let worker = await startWorker(troupe.url, counters, sdk);
        try {
          await waitFor(() => troupe.api.apps().some((app) => app.appName === "connected"), {
            what: "the worker's app to sync",
          });
          const response = await fetch(`${troupe.url}/e/key`, {
            method: "POST",
            body: JSON.stringify({ name: "demo/greet", data: { who: "again", n: 2, nap: "3s" } }),
          });
          const { ids } = (await response.json()) as { ids: string[] };
          const eventId = ids[0] ?? "";
          await waitFor(() => counters.get("hello-2") === 1, { what: "the first step" });
          // The run sleeps: the worker goes away and comes back, then the server restarts.
          await worker.close();
          worker = await startWorker(troupe.url, counters, sdk);
          await troupe.close();
          troupe = await startTroupe({ ...backend.open("connect-restart"), port });
          const [run] = await finishedRuns(troupe.url, eventId, { timeoutMs: 30_000 });
          expect(run).toMatchObject({ status: "Completed", output: { loud: "HELLO AGAIN" } });
          expect(counters.get("hello-2")).toBe(1);
          expect(counters.get("loud-2")).toBe(1);
          expect((await runsOf(troupe.url, eventId)).length).toBe(1);
        } finally {
          await worker.close();
          await troupe.close();
        }
      },
    );
  });
}
