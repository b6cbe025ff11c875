import type { PubSub } from "@troupe/core";
import { createNatsPubSub } from "@troupe/nats";
import { createRedisPubSub } from "@troupe/redis";
import { waitFor } from "@troupe/testkit";
import { describe, expect, it } from "vitest";
import { hashSigningKey } from "../src/index.js";
import { startApp, startTroupe } from "./harness.js";
import { subscribeWithSdk } from "./realtime-subscriber.js";
import { kitV4 } from "./sdk-kits.js";

const KEY = `signkey-test-${"5e1f".repeat(16)}`;
const EVENT_KEY = "troupe-realtime-event-key";
const redisUrl = process.env.TROUPE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const natsUrl = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const tag = `${process.pid}-${Date.now().toString(36)}`;

const clusters: { label: string; pubsub(): PubSub }[] = [
  { label: "Redis", pubsub: () => createRedisPubSub({ url: redisUrl, prefix: `rt-${tag}:` }) },
  {
    label: "NATS",
    pubsub: () =>
      createNatsPubSub({ servers: natsUrl, subjectPrefix: `rt${tag.replace(/\W/g, "")}` }),
  },
];

/**
 * Two Troupe servers in start mode, each with its own connection to one PubSub, as two runtime
 * processes behind one address would be: the app publishes through one, the subscriber is
 * connected to the other with a token the first one issued.
 */
describe.each(clusters)("realtime across two Troupe servers on $label", ({ pubsub }) => {
  it("a publish through one server reaches a subscriber on the other, in order", async () => {
    const options = { mode: "start" as const, signingKey: KEY, eventKeys: [EVENT_KEY] };
    const pubsubs = [pubsub(), pubsub()] as const;
    const first = await startTroupe({ ...options, pubsub: pubsubs[0] });
    const second = await startTroupe({ ...options, pubsub: pubsubs[1] });
    const client = kitV4.client({
      id: "cluster",
      baseUrl: first.url,
      signingKey: KEY,
      eventKey: EVENT_KEY,
    });
    const channel = `cluster:${tag}`;
    const fn = kitV4.fn(
      client,
      { id: "announce" },
      [{ event: "demo/announce" }],
      async ({ step }) =>
        step.run("announce", async () => {
          const api = (
            client as unknown as { realtime: { publish(t: unknown, d: unknown): Promise<void> } }
          ).realtime;
          for (let i = 0; i < 50; i += 1) {
            await api.publish({ channel, topic: "news", config: {} }, { i });
          }
          return 50;
        }),
    );
    const app = await startApp(kitV4.serve(client, [fn]));
    try {
      expect(await first.api.syncApp(app.url)).toMatchObject({ ok: true });
      const unauthorised = await fetch(`${first.url}/v1/realtime/token`, {
        method: "POST",
        body: JSON.stringify([{ channel, name: "news" }]),
      });
      expect(unauthorised.status).toBe(401);
      const issued = await fetch(`${first.url}/v1/realtime/token`, {
        method: "POST",
        headers: { authorization: `Bearer ${hashSigningKey(KEY)}` },
        body: JSON.stringify([{ channel, name: "news", kind: "run" }]),
      });
      const { jwt } = (await issued.json()) as { jwt: string };
      const subscription = await subscribeWithSdk({
        apiBaseUrl: second.url,
        channel,
        topics: ["news"],
        key: jwt,
      });
      try {
        await client.send({ name: "demo/announce", data: {} });
        await waitFor(() => subscription.messages.length === 50, {
          timeoutMs: 15_000,
          what: "50 messages on the other server",
        });
        expect(subscription.messages.map((m) => (m.data as { i: number }).i)).toEqual([
          ...Array(50).keys(),
        ]);
      } finally {
        subscription.close();
      }
    } finally {
      await app.close();
      await first.close();
      await second.close();
      await Promise.all(pubsubs.map((each) => each.close()));
    }
  });
});
