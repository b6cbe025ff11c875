import { waitFor } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runsOf, startApp, startTroupe } from "./harness.js";
import type { LifecycleBackend } from "./lifecycle-suite.js";
import type { RealtimeKit } from "./realtime-kits.js";
import { subscribeRaw, subscribeWithSdk, upgradeStatus } from "./realtime-subscriber.js";
import type { Client } from "./sdk-kits.js";

const STEP_PUBLISHES = 3;
const CLIENT_PUBLISHES = 20;

/**
 * Realtime with the official SDK: a function publishes (durable step publishes and the
 * client's direct publish), a client subscribes with a token from Troupe, on one backend.
 */
export function describeRealtime(kit: RealtimeKit, backend: LifecycleBackend): void {
  describe(`${kit.sdk.label} realtime on a ${backend.label}-backed Troupe`, () => {
    let troupe: Awaited<ReturnType<typeof startTroupe>>;
    let app: Awaited<ReturnType<typeof startApp>>;
    let client: Client;

    beforeAll(async () => {
      troupe = await startTroupe(backend.open("realtime"));
      client = kit.sdk.client({ id: "live", baseUrl: troupe.url });
      const reporter = kit.sdk.fn(
        client,
        { id: "reporter" },
        [{ event: "demo/report" }],
        async ({ event, step }) => {
          const channel = String(event.data.channel);
          for (let i = 0; i < STEP_PUBLISHES; i += 1) {
            await kit.publishStep(step, `progress-${i}`, channel, "progress", { i, via: "step" });
          }
          await step.run("burst", async () => {
            for (let j = 0; j < CLIENT_PUBLISHES; j += 1) {
              await kit.publish(client, channel, "progress", { i: STEP_PUBLISHES + j });
            }
            return CLIENT_PUBLISHES;
          });
          await kit.publishStep(step, "done", channel, "done", { total: 23 });
          return "reported";
        },
      );
      app = await startApp(kit.sdk.serve(client, [reporter]));
      expect(await troupe.api.syncApp(app.url)).toMatchObject({ ok: true });
    });

    afterAll(async () => {
      await app?.close();
      await troupe?.close();
      await backend.cleanup();
    });

    it("delivers a run's publishes to its subscribers in order per topic, with the run id", async () => {
      const channel = `run-report:${Math.random().toString(36).slice(2)}`;
      const all = await subscribeWithSdk({
        apiBaseUrl: troupe.url,
        channel,
        topics: ["progress", "done"],
        key: await kit.token(client, channel, ["progress", "done"]),
      });
      const doneOnly = await subscribeWithSdk({
        apiBaseUrl: troupe.url,
        channel,
        topics: ["done"],
        key: await kit.token(client, channel, ["done"]),
      });
      const elsewhere = await subscribeWithSdk({
        apiBaseUrl: troupe.url,
        channel: `${channel}-other`,
        topics: ["progress", "done"],
        key: await kit.token(client, `${channel}-other`, ["progress", "done"]),
      });
      try {
        const { ids } = await client.send({ name: "demo/report", data: { channel } });
        const eventId = ids[0] ?? "";
        await waitFor(() => all.messages.some((m) => m.topic === "done"), {
          timeoutMs: 15_000,
          what: "the done message",
        });
        await waitFor(() => doneOnly.messages.length === 1, { what: "done on the narrow token" });
        const progress = all.messages.filter((m) => m.topic === "progress");
        expect(progress.map((m) => (m.data as { i: number }).i)).toEqual([
          ...Array(STEP_PUBLISHES + CLIENT_PUBLISHES).keys(),
        ]);
        expect(all.messages.at(-1)).toMatchObject({ topic: "done", data: { total: 23 } });
        expect(all.messages.every((m) => m.kind === "data" && m.channel === channel)).toBe(true);
        expect(doneOnly.messages.map((m) => m.topic)).toEqual(["done"]);
        const [run] = await runsOf(troupe.url, eventId);
        expect(run?.run_id).toBeDefined();
        expect(new Set(all.messages.map((m) => m.runId))).toEqual(new Set([run?.run_id]));
        expect(elsewhere.messages).toEqual([]);
      } finally {
        all.close();
        doneOnly.close();
        elsewhere.close();
      }
    });

    // Read with a plain WebSocket: the SDK's subscriber (4.24.0) throws on `datastream-start`
    // (its ReadableStream start() reads the stream variable before it is assigned).
    it("relays a streamed publish as start, chunks and end, in order", async () => {
      const channel = `stream:${Math.random().toString(36).slice(2)}`;
      const sub = await subscribeRaw(troupe.url, await kit.token(client, channel, ["tokens"]));
      try {
        const pieces = ["Hel", "lo, ", "wor", "ld"];
        const body = new ReadableStream<Uint8Array>({
          async start(controller) {
            for (const piece of pieces) {
              controller.enqueue(new TextEncoder().encode(piece));
              await new Promise((resolve) => setTimeout(resolve, 5));
            }
            controller.close();
          },
        });
        const response = await fetch(
          `${troupe.url}/v1/realtime/publish?channel=${encodeURIComponent(channel)}&topic=tokens`,
          {
            method: "POST",
            headers: { "content-type": "text/stream" },
            body,
            duplex: "half",
          } as RequestInit,
        );
        expect(response.status).toBe(200);
        await waitFor(() => sub.messages.some((m) => m.kind === "datastream-end"), {
          what: "the end of the stream",
        });
        const kinds = sub.messages.map((m) => m.kind);
        expect(kinds[0]).toBe("datastream-start");
        expect(kinds.at(-1)).toBe("datastream-end");
        expect(kinds.slice(1, -1).every((kind) => kind === "chunk")).toBe(true);
        const text = sub.messages
          .filter((m) => m.kind === "chunk")
          .map((m) => String(m.data))
          .join("");
        expect(text).toBe("Hello, world");
      } finally {
        sub.close();
      }
    });

    it("refuses a subscription with a missing, forged or altered token (401)", async () => {
      const ws = troupe.url.replace(/^http/, "ws");
      const token = await kit.token(client, "c", ["t"]);
      const [header, , signature] = token.split(".");
      const wider = Buffer.from(JSON.stringify({ channel: "c", topics: ["t", "u"] })).toString(
        "base64url",
      );
      expect(await upgradeStatus(`${ws}/v1/realtime/connect`)).toBe(401);
      expect(await upgradeStatus(`${ws}/v1/realtime/connect?token=nonsense`)).toBe(401);
      expect(
        await upgradeStatus(`${ws}/v1/realtime/connect?token=${header}.${wider}.${signature}`),
      ).toBe(401);
      expect(await upgradeStatus(`${ws}/v1/realtime/connect?token=${token}`)).toBe(0);
    });

    it("answers a malformed token or publish request with 400 naming the field", async () => {
      const post = async (path: string, body: string) => {
        const response = await fetch(`${troupe.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        });
        return { status: response.status, body: (await response.json()) as { error: string } };
      };
      expect(
        await post("/v1/realtime/token", JSON.stringify([{ channel: "", name: "t" }])),
      ).toEqual({
        status: 400,
        body: expect.objectContaining({ error: expect.stringMatching(/^body\[0\]\.channel: /) }),
      });
      expect(await post("/v1/realtime/token", "{")).toMatchObject({ status: 400 });
      expect(
        await post(
          "/v1/realtime/token",
          JSON.stringify([
            { channel: "a", name: "t" },
            { channel: "b", name: "t" },
          ]),
        ),
      ).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^body\[1\]\.channel/) },
      });
      expect(await post("/v1/realtime/publish?channel=c", "{}")).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^query\.topic: /) },
      });
      expect(await post("/v1/realtime/publish?topic=t", "{}")).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^query\.channel: /) },
      });
    });
  });
}
