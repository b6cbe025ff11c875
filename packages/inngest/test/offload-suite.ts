import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finishedRuns, startApp, startTroupe } from "./harness.js";
import type { LifecycleBackend } from "./lifecycle-suite.js";
import type { Client, SdkKit } from "./sdk-kits.js";

type OffloadSteps = {
  fetch(url: string, init?: RequestInit): Promise<Response>;
  run<T>(id: string, fn: () => T | Promise<T>): Promise<T>;
  ai: {
    infer(
      id: string,
      options: { model: unknown; body: Record<string, unknown> },
    ): Promise<{ choices: { message: { content: string } }[] }>;
    wrap<T>(id: string, fn: (...args: never[]) => T | Promise<T>, ...args: unknown[]): Promise<T>;
    models: { openai(options: { model: string; apiKey: string; baseUrl: string }): unknown };
  };
};

/** A loopback server: plain JSON routes and an OpenAI-compatible chat completions route. */
async function startProvider() {
  const hits = new Map<string, number>();
  const seen: { path: string; auth?: string; body: unknown }[] = [];
  const readBody = (request: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let text = "";
      request.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      request.on("end", () => resolve(text));
    });
  const server: Server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    const count = (hits.get(path) ?? 0) + 1;
    hits.set(path, count);
    const text = await readBody(request);
    if (path === "/data") {
      response.writeHead(201, { "content-type": "application/json", "x-provider": "loopback" });
      response.end(JSON.stringify({ hello: "world", method: request.method, body: text }));
      return;
    }
    if (path === "/flaky") {
      // The first attempt loses its connection: a failure the step retries.
      if (count === 1) return request.socket.destroy();
      response.writeHead(200, { "content-type": "text/plain" });
      response.end(`attempt ${count}`);
      return;
    }
    if (path.endsWith("/chat/completions")) {
      const body = JSON.parse(text) as {
        model: string;
        messages: { role: string; content: string }[];
      };
      seen.push({ path, auth: request.headers.authorization ?? "", body });
      const calls = seen.filter((s) => (s.body as { model: string }).model === body.model).length;
      if (body.model === "flaky-model" && calls === 1) {
        response.writeHead(503, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: { message: "overloaded" } }));
        return;
      }
      if (request.headers.authorization !== "Bearer test-key") {
        response.writeHead(401, { "content-type": "application/json" });
        response.end(JSON.stringify({ error: { message: "bad key" } }));
        return;
      }
      const last = body.messages.at(-1)?.content ?? "";
      response.writeHead(200, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          id: `chatcmpl-${count}`,
          object: "chat.completion",
          model: body.model,
          choices: [
            {
              index: 0,
              finish_reason: "stop",
              message: { role: "assistant", content: `echo: ${last}` },
            },
          ],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        }),
      );
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `step.fetch`, `step.ai.infer` (performed by Troupe) and `step.ai.wrap` (in the app). */
export function describeOffload(
  kit: SdkKit,
  backend: LifecycleBackend,
  options: { readonly checkpointing?: boolean } = {},
): void {
  describe(`${kit.label}: step.fetch and step.ai on ${backend.label}${options.checkpointing ? " (checkpointing)" : ""}`, () => {
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    let app: Awaited<ReturnType<typeof startApp>>;
    let provider: Awaited<ReturnType<typeof startProvider>>;
    let client: Client;
    const appCalls = { fetch: 0 };

    const send = async (event: string, data: Record<string, unknown> = {}) => {
      const { ids } = await client.send({ name: event, data });
      return ids[0] ?? "";
    };

    beforeAll(async () => {
      provider = await startProvider();
      troupe = await startTroupe({
        ...backend.open(`offload-${Math.random().toString(36).slice(2)}`),
        ...options,
      });
      client = kit.client({ id: "off", baseUrl: troupe.url });
      const model = (name: string) => ({
        model: name,
        apiKey: "test-key",
        baseUrl: `${provider.url}/v1/`,
      });
      const functions = [
        kit.fn(client, { id: "fetcher" }, [{ event: "off/fetch" }], async ({ event, step }) => {
          const steps = step as unknown as OffloadSteps;
          appCalls.fetch++;
          const response = await steps.fetch(`${provider.url}${String(event.data.path)}`, {
            method: "POST",
            headers: { "x-trace": "t-1" },
            body: "ping",
          });
          const text = await response.text();
          // A later step: the handler replays, the fetch does not.
          const after = await steps.run("after", () => "done");
          return {
            status: response.status,
            header: response.headers.get("x-provider"),
            text,
            after,
          };
        }),
        kit.fn(
          client,
          { id: "inferrer", retries: 2 },
          [{ event: "off/infer" }],
          async ({ event, step }) => {
            const steps = step as unknown as OffloadSteps;
            const answer = await steps.ai.infer("ask", {
              model: steps.ai.models.openai(model(String(event.data.model))),
              body: { messages: [{ role: "user", content: String(event.data.prompt) }] },
            });
            return { content: answer.choices[0]?.message.content };
          },
        ),
        kit.fn(client, { id: "wrapper" }, [{ event: "off/wrap" }], async ({ event, step }) => {
          const steps = step as unknown as OffloadSteps;
          const out = await steps.ai.wrap(
            "wrapped",
            async (prompt: string) => ({ text: `wrapped: ${prompt}` }),
            String(event.data.prompt),
          );
          return out;
        }),
      ];
      app = await startApp(kit.serve(client, functions));
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
    });

    afterAll(async () => {
      await app?.close();
      await troupe?.close();
      await provider?.close();
      await backend.cleanup();
    });

    it("step.fetch: Troupe makes the request once, memoized, and shows it in the run", async () => {
      const eventId = await send("off/fetch", { path: "/data" });
      const [run] = await finishedRuns(troupe.url, eventId);
      expect(run?.status).toBe("Completed");
      const output = run?.output as { status: number; header: string; text: string; after: string };
      expect(output).toMatchObject({ status: 201, header: "loopback", after: "done" });
      expect(JSON.parse(output.text)).toEqual({ hello: "world", method: "POST", body: "ping" });
      expect(provider.hits.get("/data")).toBe(1);
      const view = await troupe.flows.getRun(run?.run_id ?? "");
      const fetched = view?.steps.find((s) => s.op === "fetch");
      expect(fetched).toMatchObject({
        status: "completed",
        input: [{ url: `${provider.url}/data`, method: "POST", body: "ping" }],
        output: { status_code: 201 },
      });
    });

    it("step.fetch: a request that fails is retried as a step", async () => {
      const eventId = await send("off/fetch", { path: "/flaky" });
      const [run] = await finishedRuns(troupe.url, eventId);
      expect(run).toMatchObject({
        status: "Completed",
        output: { status: 200, text: "attempt 2" },
      });
      expect(provider.hits.get("/flaky")).toBe(2);
      const view = await troupe.flows.getRun(run?.run_id ?? "");
      const fetched = view?.steps.find((s) => s.op === "fetch");
      expect(fetched?.attempts).toBe(2);
      expect(fetched?.errors?.[0]?.name).toBe("TROUPE_OFFLOAD_FAILED");
    });

    it("step.ai.infer: the chat completion is requested by Troupe with the key, memoized", async () => {
      const eventId = await send("off/infer", { model: "small-model", prompt: "hi there" });
      const [run] = await finishedRuns(troupe.url, eventId);
      expect(run).toMatchObject({ status: "Completed", output: { content: "echo: hi there" } });
      const request = provider.seen.find(
        (s) => (s.body as { model: string }).model === "small-model",
      );
      expect(request?.auth).toBe("Bearer test-key");
      expect(request?.body).toMatchObject({
        model: "small-model",
        messages: [{ role: "user", content: "hi there" }],
      });
      const view = await troupe.flows.getRun(run?.run_id ?? "");
      const inferred = view?.steps.find((s) => s.op === "aiInfer");
      expect(inferred).toMatchObject({
        status: "completed",
        output: { object: "chat.completion" },
      });
      // The key is not in the run's history.
      const shown = inferred?.input?.[0] as { headers: Record<string, string> };
      expect(shown.headers.authorization).toBe("[redacted]");
      expect(JSON.stringify(view)).not.toContain("test-key");
    });

    it("step.ai.infer: a provider error (503) is retried", async () => {
      const eventId = await send("off/infer", { model: "flaky-model", prompt: "again" });
      const [run] = await finishedRuns(troupe.url, eventId);
      expect(run).toMatchObject({ status: "Completed", output: { content: "echo: again" } });
      const calls = provider.seen.filter(
        (s) => (s.body as { model: string }).model === "flaky-model",
      );
      expect(calls).toHaveLength(2);
    });

    it("step.ai.wrap runs in the app as a memoized step", async () => {
      const eventId = await send("off/wrap", { prompt: "p" });
      const [run] = await finishedRuns(troupe.url, eventId);
      expect(run).toMatchObject({ status: "Completed", output: { text: "wrapped: p" } });
      const view = await troupe.flows.getRun(run?.run_id ?? "");
      expect(view?.steps.map((s) => [s.id, s.status])).toEqual([["wrapped", "completed"]]);
    });
  });
}
