import type { RequestListener } from "node:http";
import * as v4 from "inngest";
import * as v4node from "inngest/node";
import * as v3 from "inngest-v3";
import * as v3node from "inngest-v3/node";

/** The step tools the tests use (the same in v3 and v4). */
export interface Steps {
  run<T>(id: string, fn: () => T | Promise<T>): Promise<T>;
  sleep(id: string, duration: string): Promise<void>;
  waitForEvent(
    id: string,
    options: { event: string; timeout: string; match?: string; if?: string },
  ): Promise<{ name: string; data: Record<string, unknown> } | null>;
  invoke(
    id: string,
    options: { function: unknown; data: Record<string, unknown> },
  ): Promise<unknown>;
}

/** What a handler receives. */
export interface Context {
  readonly event: { name: string; data: Record<string, unknown>; id?: string };
  readonly events: readonly { name: string; data: Record<string, unknown> }[];
  readonly step: Steps;
  readonly attempt: number;
  readonly error?: Error;
  readonly runId: string;
}

/** A trigger. */
export type Trigger = { event: string; if?: string } | { cron: string; jitter?: string };

/** A client, as far as the tests use it. */
export interface Client {
  send(
    events:
      | { name: string; data?: Record<string, unknown>; id?: string }
      | { name: string; data?: Record<string, unknown> }[],
  ): Promise<{ ids: string[] }>;
}

/** One major version of the official SDK behind one interface. */
export interface SdkKit {
  readonly label: string;
  /** Whether the SDK checkpoints by default when Troupe sends `ctx.fn_id` (v4 does, v3 opts in). */
  readonly checkpointsByDefault: boolean;
  client(options: { id: string; baseUrl: string; signingKey?: string; eventKey?: string }): Client;
  fn(
    client: Client,
    config: Record<string, unknown>,
    triggers: Trigger[],
    handler: (ctx: Context) => unknown,
  ): unknown;
  serve(client: Client, functions: unknown[], options?: { signingKey?: string }): RequestListener;
  NonRetriableError: new (message: string) => Error;
  RetryAfterError: new (message: string, retryAfter: string) => Error;
}

type Loose = Record<string, (...args: unknown[]) => unknown>;

/** The SDKs log every step error to the console; the tests assert outcomes instead. */
const silent = { info() {}, warn() {}, error() {}, debug() {} };

export const kitV4: SdkKit = {
  label: "inngest v4",
  checkpointsByDefault: true,
  client: ({ id, baseUrl, signingKey, eventKey }) =>
    new v4.Inngest({
      id,
      baseUrl,
      logger: silent,
      isDev: signingKey === undefined,
      ...(signingKey ? { signingKey } : {}),
      ...(eventKey ? { eventKey } : {}),
    }) as unknown as Client,
  fn: (client, config, triggers, handler) =>
    (client as unknown as Loose).createFunction?.({ ...config, triggers }, handler),
  serve: (client, functions) =>
    v4node.serve({ client, functions } as unknown as Parameters<typeof v4node.serve>[0]),
  NonRetriableError: v4.NonRetriableError,
  RetryAfterError: v4.RetryAfterError as unknown as SdkKit["RetryAfterError"],
};

export const kitV3: SdkKit = {
  label: "inngest v3",
  checkpointsByDefault: false,
  client: ({ id, baseUrl, signingKey, eventKey }) =>
    new v3.Inngest({
      id,
      baseUrl,
      logger: silent,
      isDev: signingKey === undefined,
      ...(signingKey ? { signingKey } : {}),
      ...(eventKey ? { eventKey } : {}),
    }) as unknown as Client,
  fn: (client, config, triggers, handler) =>
    (client as unknown as Loose).createFunction?.(
      config,
      triggers.length === 1 ? triggers[0] : triggers,
      handler,
    ),
  serve: (client, functions, options) =>
    v3node.serve({ client, functions, ...options } as unknown as Parameters<
      typeof v3node.serve
    >[0]),
  NonRetriableError: v3.NonRetriableError,
  RetryAfterError: v3.RetryAfterError as unknown as SdkKit["RetryAfterError"],
};
