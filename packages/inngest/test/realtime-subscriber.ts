import { subscribe } from "inngest/realtime";
import { WebSocket as NodeWebSocket } from "ws";

// Node 22 has a global WebSocket; Node 20 only behind a flag. The SDK's client needs one.
if (typeof globalThis.WebSocket === "undefined") {
  Object.assign(globalThis, { WebSocket: NodeWebSocket });
}

/** A message as the SDK's realtime client hands it to a subscriber. */
export interface ReceivedMessage {
  readonly kind: string;
  readonly channel?: string;
  readonly topic?: string;
  readonly data: unknown;
  readonly runId?: string;
}

/** A live subscription collecting what it receives. */
export interface Subscription {
  readonly messages: ReceivedMessage[];
  close(): void;
}

/**
 * Subscribes with the official SDK's realtime client (`subscribe` of `inngest/realtime`, v4:
 * the v3 package ships no subscriber) at `apiBaseUrl`, with a token from Troupe.
 */
export async function subscribeWithSdk(options: {
  readonly apiBaseUrl: string;
  readonly channel: string;
  readonly topics: string[];
  readonly key: string;
}): Promise<Subscription> {
  const messages: ReceivedMessage[] = [];
  const subscription = (await subscribe({
    channel: options.channel,
    topics: options.topics,
    key: options.key,
    apiBaseUrl: options.apiBaseUrl,
    onMessage: (message: ReceivedMessage) => {
      messages.push(message);
    },
  } as unknown as Parameters<typeof subscribe>[0])) as unknown as { close(): void };
  return { messages, close: () => subscription.close() };
}

/** Subscribes with a plain WebSocket, collecting the raw frames (as `ReceivedMessage`s). */
export async function subscribeRaw(apiBaseUrl: string, token: string): Promise<Subscription> {
  const messages: ReceivedMessage[] = [];
  const url = `${apiBaseUrl.replace(/^http/, "ws")}/v1/realtime/connect?token=${token}`;
  const socket = new NodeWebSocket(url);
  socket.on("message", (data: Buffer) => {
    const frame = JSON.parse(data.toString("utf8")) as ReceivedMessage & { run_id?: string };
    messages.push({ ...frame, ...(frame.run_id ? { runId: frame.run_id } : {}) });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return { messages, close: () => socket.close() };
}

/** The HTTP status a WebSocket upgrade to `url` is refused with (0 if it was accepted). */
export function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new NodeWebSocket(url);
    socket.on("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? -1);
      socket.terminate();
    });
    socket.on("open", () => {
      resolve(0);
      socket.close();
    });
    socket.on("error", (error) => reject(error));
  });
}
