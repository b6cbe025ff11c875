import * as v4 from "inngest";
import * as v4realtime from "inngest/realtime";
import type { Client, SdkKit, Steps } from "./sdk-kits.js";
import { kitV3, kitV4 } from "./sdk-kits.js";

/** How one SDK major version publishes and asks for subscription tokens. */
export interface RealtimeKit {
  readonly sdk: SdkKit;
  /** `step.realtime.publish`: a memoized step that publishes once. */
  publishStep(
    steps: Steps,
    id: string,
    channel: string,
    topic: string,
    data: unknown,
  ): Promise<unknown>;
  /** The client's non-durable publish (`inngest.realtime.publish`). */
  publish(client: Client, channel: string, topic: string, data: unknown): Promise<unknown>;
  /** A subscription token from `POST /v1/realtime/token`, through the SDK. */
  token(client: Client, channel: string, topics: string[]): Promise<string>;
}

type Loose = Record<string, (...args: unknown[]) => Promise<unknown>>;
const realtimeOf = (value: unknown) => (value as { realtime: Loose }).realtime;

/** v4: topic references from `realtime.channel`, `client.realtime.token`. */
export const realtimeKitV4: RealtimeKit = {
  sdk: kitV4,
  publishStep: (steps, id, channel, topic, data) => {
    const topics = { [topic]: { schema: v4realtime.staticSchema<Record<string, unknown>>() } };
    const ref = v4.realtime.channel({ name: channel, topics })[topic];
    return realtimeOf(steps).publish?.(id, ref, data) ?? Promise.reject(new Error("no publish"));
  },
  publish: (client, channel, topic, data) => {
    const topics = { [topic]: { schema: v4realtime.staticSchema<Record<string, unknown>>() } };
    const ref = v4realtime.channel({ name: channel, topics })[topic];
    return realtimeOf(client).publish?.(ref, data) ?? Promise.reject(new Error("no publish"));
  },
  token: async (client, channel, topics) => {
    const token = (await realtimeOf(client).token?.({ channel, topics })) as { key?: string };
    if (!token?.key) throw new Error("no token key");
    return token.key;
  },
};

/** v3: `{channel, topic, data}` options, `client.realtime.getSubscriptionToken`. */
export const realtimeKitV3: RealtimeKit = {
  sdk: kitV3,
  publishStep: (steps, id, channel, topic, data) =>
    realtimeOf(steps).publish?.(id, { channel, topic, data }) ??
    Promise.reject(new Error("no publish")),
  publish: (client, channel, topic, data) =>
    realtimeOf(client).publish?.({ channel, topic, data }) ??
    Promise.reject(new Error("no publish")),
  token: async (client, channel, topics) => {
    const token = (await realtimeOf(client).getSubscriptionToken?.({ channel, topics })) as {
      key?: string;
    };
    if (!token?.key) throw new Error("no token key");
    return token.key;
  },
};
