import type { RequestListener } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSigningKey } from "../src/index.js";
import { finishedRuns, startApp, startTroupe } from "./harness.js";
import type { Client, SdkKit } from "./sdk-kits.js";

const KEY = `signkey-test-${"ab12".repeat(16)}`;
const WRONG_KEY = `signkey-test-${"cd34".repeat(16)}`;
const EVENT_KEY = "troupe-test-event-key";
const auth = { authorization: `Bearer ${hashSigningKey(KEY)}` };

/**
 * Start mode with a signing key on both sides. One SDK major version per test file: v3 and v4
 * share an AsyncLocalStorage slot and break each other inside one process.
 */
export function describeSigning(kit: SdkKit): void {
  describe(`${kit.label}: request signing (start mode)`, () => {
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    let app: Awaited<ReturnType<typeof startApp>>;
    let client: Client;
    let listener: RequestListener;
    let doomedCalls = 0;
    const build = (key: string) => {
      const c = kit.client({
        id: "signed",
        baseUrl: troupe.url,
        signingKey: key,
        eventKey: EVENT_KEY,
      });
      const fn = kit.fn(
        c,
        { id: "greet", retries: 0 },
        [{ event: "demo/signed" }],
        async ({ event, step }) => step.run("greet", () => `hello ${event.data.who}`),
      );
      // Fails at once with retries left: the SDK's signed error reply must end the run.
      const doomed = kit.fn(
        c,
        { id: "doomed", retries: 2 },
        [{ event: "demo/doomed" }],
        async ({ step }) =>
          step.run("fatal", () => {
            doomedCalls++;
            throw new kit.NonRetriableError("no point retrying");
          }),
      );
      // Start mode without an offload policy: the server fetches nothing for the app.
      const fetcher = kit.fn(
        c,
        { id: "fetcher", retries: 0 },
        [{ event: "demo/fetch" }],
        async ({ event, step }) => {
          const steps = step as unknown as { fetch(url: string): Promise<Response> };
          const response = await steps.fetch(String(event.data.url));
          return response.status;
        },
      );
      return {
        client: c,
        listener: kit.serve(c, [fn, doomed, fetcher], { signingKey: key }),
      };
    };

    beforeAll(async () => {
      troupe = await startTroupe({ mode: "start", signingKey: KEY, eventKeys: [EVENT_KEY] });
      const built = build(KEY);
      client = built.client;
      listener = built.listener;
      app = await startApp((req, res) => listener(req, res));
    });

    afterAll(async () => {
      await app?.close();
      await troupe?.close();
    });

    it("syncs, runs with signed call requests, and serves REST to the key holder only", async () => {
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
      const { ids } = await client.send({ name: "demo/signed", data: { who: "ada" } });
      const [run] = await finishedRuns(troupe.url, ids[0] ?? "", { headers: auth });
      expect(run).toMatchObject({ status: "Completed", output: "hello ada" });
      expect((await fetch(`${troupe.url}/v1/events/${ids[0]}/runs`)).status).toBe(401);
    });

    it("takes the SDK's signed error replies: a NonRetriableError ends the run at once", async () => {
      const { ids } = await client.send({ name: "demo/doomed", data: {} });
      const [run] = await finishedRuns(troupe.url, ids[0] ?? "", { headers: auth });
      expect(run?.status).toBe("Failed");
      expect(doomedCalls).toBe(1);
      expect(JSON.stringify(run?.error ?? run?.output)).toContain("no point retrying");
    });

    it("rejects a sync from an app with another signing key", async () => {
      const wrong = build(WRONG_KEY);
      const other = await startApp(wrong.listener);
      try {
        const result = await troupe.api.syncApp(other.url);
        expect(result.ok).toBe(false);
      } finally {
        await other.close();
      }
    });

    it("fails the run when the app rejects the call signature", async () => {
      listener = build(WRONG_KEY).listener;
      try {
        const { ids } = await client.send({ name: "demo/signed", data: { who: "eve" } });
        const [run] = await finishedRuns(troupe.url, ids[0] ?? "", { headers: auth });
        expect(run?.status).toBe("Failed");
        expect(run?.error?.name).toBe("INNGEST_UNAUTHORIZED");
      } finally {
        listener = build(KEY).listener;
      }
    });

    it("serves POST /v1/signals to the key holder only; the SDK's sendSignal carries the key", async () => {
      const bare = await fetch(`${troupe.url}/v1/signals`, {
        method: "POST",
        body: JSON.stringify({ signal: "s" }),
      });
      expect(bare.status).toBe(401);
      const signals = client as unknown as {
        sendSignal(options: { signal: string }): Promise<{ runId?: string }>;
      };
      // Authorized, and nobody waits: the SDK's answer for a 404.
      expect(await signals.sendSignal({ signal: "nobody-waits" })).toEqual({ runId: undefined });
    });

    it("fails closed on step.fetch: no URL is fetched without an allowlist", async () => {
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
      const { ids } = await client.send({
        name: "demo/fetch",
        data: { url: `${troupe.url}/health` },
      });
      const [run] = await finishedRuns(troupe.url, ids[0] ?? "", { headers: auth });
      expect(run?.status).toBe("Failed");
      expect(JSON.stringify(run?.error)).toContain("offloadAllowlist");
    });

    it("rejects events with an unknown event key", async () => {
      const response = await fetch(`${troupe.url}/e/not-the-key`, {
        method: "POST",
        body: JSON.stringify({ name: "demo/signed", data: {} }),
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ status: 401 });
    });
  });
}
