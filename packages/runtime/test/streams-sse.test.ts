// Streams through the runtime: the SSE feed, publishing over REST, implicit actor consumers,
// token scopes and the stream metrics on /metrics.

import { createStreams, implicitSubscription, type StreamEvent } from "@troupe/actor-streams";
import { defineActor } from "@troupe/actors";
import { createMemoryPubSub, createMemoryStore, noopLogger } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { parseRuntimeConfig, type RuntimeConfigInput } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";
import { createStreamsRoutes } from "../src/streams-routes.js";
import { openSse, type SseClient } from "./sse-client.js";

const Room = defineActor({
  name: "Room",
  key: "string",
  state: z.object({ seqs: z.array(z.number()) }),
  initialState: () => ({ seqs: [] }),
  actions: {
    onMessage(ctx, event: StreamEvent) {
      ctx.state.seqs.push(event.seq);
    },
    seqs: { readOnly: true, handler: (ctx) => ctx.state.seqs },
  },
});
implicitSubscription(Room, { namespace: "rooms", action: "onMessage" });

const ROOT = "root-token-for-streams-tests-0123456789";
const runtimes: Runtime[] = [];
const clients: SseClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
});

async function start(input: RuntimeConfigInput = {}) {
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: "memory:" }, server: { port: 0 }, ...input }),
    { logger: noopLogger, inngest: false, dashboardDir: false, actors: { definitions: [Room] } },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return { runtime, url };
}

async function sse(url: string, headers: Record<string, string> = {}) {
  const client = await openSse(url, headers);
  clients.push(client);
  return client;
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const seqsOf = (client: SseClient) => client.events.map((event) => Number(event.id));
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("streams over Server-Sent Events", () => {
  it("an SSE client that disconnects and resumes with Last-Event-ID misses nothing, in order", async () => {
    const { url } = await start();
    const feed = `${url}/actors/streams/chat/lobby`;
    const first = await sse(feed);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toContain("text/event-stream");
    await waitFor(() => first.comments.includes("connected"));
    for (let i = 1; i <= 8; i++) {
      const published = await post(feed, { data: { i } });
      expect(published).toMatchObject({ status: 201, body: { seq: i } });
    }
    await waitFor(() => first.events.length === 8);
    first.close();
    await first.done;
    for (let i = 9; i <= 15; i++) await post(feed, { data: { i } });
    const last = first.events.at(-1)?.id ?? "";
    const resumed = await sse(feed, { "last-event-id": last });
    await waitFor(() => resumed.comments.includes("connected"));
    for (let i = 16; i <= 20; i++) await post(feed, { data: { i } });
    await waitFor(() => resumed.events.length === 12);
    expect(seqsOf(first)).toEqual(range(1, 8));
    expect(seqsOf(resumed)).toEqual(range(9, 20));
    const payload = JSON.parse(resumed.events[0]?.data ?? "{}") as StreamEvent<{ i: number }>;
    expect(payload).toMatchObject({ namespace: "chat", key: "lobby", seq: 9, data: { i: 9 } });
    // `?from=` names the first event wanted.
    const replay = await sse(`${feed}?from=18`);
    await waitFor(() => replay.events.length === 3);
    expect(seqsOf(replay)).toEqual([18, 19, 20]);
  });

  it("stopping the runtime ends open feeds instead of waiting for them", async () => {
    const { runtime, url } = await start();
    const client = await sse(`${url}/actors/streams/chat/closing`);
    await waitFor(() => client.comments.includes("connected"));
    await runtime.stop();
    await client.done;
    expect(client.events).toEqual([]);
  });

  it("an event published over REST activates the implicit consumer actor", async () => {
    const { runtime, url } = await start();
    for (let i = 1; i <= 3; i++) await post(`${url}/actors/streams/rooms/r1`, { data: i });
    const room = runtime.actors?.get(Room, "r1");
    await waitFor(async () => (await room?.seqs())?.length === 3);
    expect(await room?.seqs()).toEqual([1, 2, 3]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('troupe_stream_events_published_total{namespace="rooms"} 3');
    expect(metrics).toContain(
      'troupe_stream_events_delivered_total{consumer="Room",namespace="rooms"} 3',
    );
    expect(metrics).toContain('troupe_stream_lag{consumer="Room",namespace="rooms"} 0');
  });

  it("bad input gets a 400 naming the field, a large body a 413, and nothing is published", async () => {
    const { runtime, url } = await start();
    const base = `${url}/actors/streams`;
    const bad = async (route: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${base}${route}`, { headers });
      return {
        status: response.status,
        body: (await response.json()) as { error: { message: string } },
      };
    };
    expect(await bad("/chat/a?from=abc")).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^from: expected a non-negative integer/) } },
    });
    expect(await bad("/chat/a", { "last-event-id": "-3" })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^Last-Event-ID: /) } },
    });
    expect(await bad("/9chat/a")).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^namespace: /) } },
    });
    expect(await post(`${base}/chat/a`, {})).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^data: required/) } },
    });
    expect(await post(`${base}/chat/a`, { data: 1, extra: 2 })).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringMatching(/^extra: unknown field/) } },
    });
    expect(await post(`${base}/chat/a`, "{not json")).toMatchObject({ status: 400 });
    expect(await post(`${base}/chat/a`, { data: "x".repeat(70_000) })).toMatchObject({
      status: 413,
      body: { error: { code: "EVENT_TOO_LARGE" } },
    });
    expect(await runtime.streams?.head("chat", "a")).toBe(0);
  });

  it("GET needs actors:read and POST needs actors:call", async () => {
    const { url } = await start({ auth: { token: ROOT } });
    const mint = async (scope: string) => {
      const created = await post(
        `${url}/api/tokens`,
        { name: scope.replace(":", "-"), scopes: [scope] },
        {
          authorization: `Bearer ${ROOT}`,
        },
      );
      return created.body.token as string;
    };
    const reader = await mint("actors:read");
    const caller = await mint("actors:call");
    const feed = `${url}/actors/streams/chat/private`;
    const refused = await post(feed, { data: 1 }, { authorization: `Bearer ${reader}` });
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain("actors:call");
    const denied = await fetch(feed, { headers: { authorization: `Bearer ${caller}` } });
    expect(denied.status).toBe(403);
    await denied.text();
    const client = await sse(feed, { authorization: `Bearer ${reader}` });
    expect(client.status).toBe(200);
    await waitFor(() => client.comments.includes("connected"));
    expect((await post(feed, { data: 1 }, { authorization: `Bearer ${caller}` })).status).toBe(201);
    await waitFor(() => client.events.length === 1);
  });
});

describe("the SSE feed's heartbeats and end", () => {
  it("sends a comment every heartbeat while idle, and an error event when retention cut the feed", async () => {
    const store = createMemoryStore();
    const pubsub = createMemoryPubSub();
    const streams = createStreams({ store, pubsub, sweepMs: 0, maxEvents: 3 });
    const app = createStreamsRoutes({ streams: () => streams, logger: noopLogger, heartbeatMs: 5 });
    try {
      const response = await app.request("/chat/idle");
      const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while ((text.match(/: heartbeat/g) ?? []).length < 3) {
        const chunk = await reader?.read();
        if (chunk === undefined || chunk.done) break;
        text += chunk.value;
      }
      expect((text.match(/: heartbeat/g) ?? []).length).toBeGreaterThanOrEqual(3);
      await reader?.cancel();
      for (let i = 1; i <= 5; i++) await streams.publish("chat", "old", i);
      const gone = await app.request("/chat/old?from=1");
      expect(gone.status).toBe(410);
      expect(await gone.json()).toMatchObject({ error: { code: "STREAM_TRIMMED" } });
    } finally {
      await streams.close();
      await pubsub.close();
    }
  });
});
