import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import {
  type Clock,
  type Logger,
  type PubSub,
  type Store,
  TroupeError,
  zodIssueError,
} from "@troupe/core";
import type { Flows } from "@troupe/flows";
import type { Hono } from "hono";
import { z } from "zod";
import { BRACKETS } from "./register-schema.js";
import type { StoredApp } from "./registry.js";
import type { SigningKeyStatus } from "./signing-keys.js";
import type { SyncResult } from "./sync-ping.js";

/** Options of {@link createInngestApi}. */
export interface InngestApiOptions {
  /** The engine, from `createFlows`. */
  readonly flows: Flows;
  /**
   * `dev`: any event key and any register caller are accepted, apps may be synced by URL.
   * `start`: a signing key is required; register and REST calls must carry the hashed key as a
   * bearer token; events need one of `eventKeys`.
   */
  readonly mode: "dev" | "start";
  /** `signkey-<env>-<hex>`: signs call requests and checks API callers. Required in `start`. */
  readonly signingKey?: string;
  /**
   * The previous key during a rotation: accepted from callers and on SDK replies (never used to
   * sign) until `signingKeyFallbackUntil`.
   */
  readonly signingKeyFallback?: string;
  /**
   * When the rotation window closes: ms since the epoch, or an RFC 3339 time. From then on the
   * fallback key is refused everywhere (read at each request, no restart needed). Unset: the
   * fallback is accepted until it is removed from the options.
   */
  readonly signingKeyFallbackUntil?: number | string;
  /** Event keys accepted by `POST /e/:key` in `start` mode (dev accepts any). */
  readonly eventKeys?: readonly string[];
  /**
   * Where synced apps are kept, so their functions are registered again after a restart. Pass
   * the engine's Store. Default: in memory (apps must be synced again after a restart).
   */
  readonly store?: Store;
  /** Store key prefix for this adapter's records. Default `"inngest/"`. */
  readonly prefix?: string;
  /**
   * v4 checkpointing: send `ctx.fn_id` so v4 SDKs run several steps per request and report them
   * to `/v1/checkpoint/:runId/async`. Default false (the classic one-step-per-request protocol).
   */
  readonly checkpointing?: boolean;
  /**
   * Keep checkpointed steps in the Store rather than in memory, so they are applied whichever
   * Troupe process the SDK's checkpoint reached (several processes behind one address). Costs a
   * commit per checkpoint and a read per call. Default false.
   */
  readonly sharedCheckpoints?: boolean;
  /**
   * Call bodies above this size (bytes) make the SDK fetch events and step results from
   * `/v0/runs/:id/batch|actions` instead. Default 4 MiB.
   */
  readonly maxRequestBodyBytes?: number;
  /**
   * Most bytes of one `GET /v1/events` page; a fuller page ends early and its `cursor` leads on.
   * Default 4 MiB.
   */
  readonly maxListBytes?: number;
  /**
   * Which URLs `step.fetch` and `step.ai.infer` may make the server contact. Default: any
   * http(s) URL in `dev`, none in `start` (fails closed: the runtime passes its allowlist).
   */
  readonly canFetchUrl?: (url: string) => boolean;
  /**
   * Carries realtime publishes to subscribers on other Troupe processes (pass the runtime's
   * Redis or NATS PubSub when clustered). Default: in-process only.
   */
  readonly pubsub?: PubSub;
  /** How long a realtime subscription token is valid. Default 1 hour. */
  readonly realtimeTokenTtlMs?: number;
  /** The fetch used for call requests and sync pings. Default: global fetch. */
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** The Inngest-compatible HTTP API over a flows engine. */
export interface InngestApi {
  /** The routes: mount with `server.route("/", api.app)`. */
  readonly app: Hono;
  /**
   * Resolves once stored apps are loaded and their functions registered with the engine. Await
   * it before `flows.start()`, or queued work for those functions finds them missing.
   */
  ready(): Promise<void>;
  /** Asks the app served at `url` to sync (`PUT url`), as `troupe dev -u <url>` does. */
  syncApp(url: string): Promise<SyncResult>;
  /** The synced apps. */
  apps(): readonly StoredApp[];
  /** The signing keys (hash prefixes only) and whether each is accepted now. */
  signingKeys(): readonly SigningKeyStatus[];
  /**
   * Takes a WebSocket upgrade for realtime subscriptions (`/v1/realtime/connect`) and returns
   * true; false for other paths. Wire it to the HTTP server: `server.on("upgrade", ...)`.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Stops background work of the adapter (the engine belongs to the caller). */
  close(): Promise<void>;
}

const signingKeySchema = z
  .string()
  .regex(/^(signkey-\w+-)?[0-9a-fA-F]+$/, "expected signkey-<env>-<hex> (or the hex part alone)");

const optionsSchema = z.looseObject({
  flows: z.custom<Flows>(
    (value) => typeof value === "object" && value !== null,
    "expected a flows engine",
  ),
  mode: z.enum(["dev", "start"]),
  signingKey: signingKeySchema.optional(),
  signingKeyFallback: signingKeySchema.optional(),
  signingKeyFallbackUntil: z
    .union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })], {
      error: "expected ms since the epoch or an RFC 3339 time like 2026-12-07T00:00:00Z",
    })
    .optional(),
  eventKeys: z.array(z.string().min(1, "expected a non-empty event key")).optional(),
  prefix: z.string().min(1).optional(),
  maxRequestBodyBytes: z.number().int().positive().optional(),
  maxListBytes: z.number().int().positive().optional(),
});

/**
 * Checks {@link InngestApiOptions} up front and throws INVALID_ARGUMENT naming the field: a
 * malformed key, or `start` mode without a signing key or an event key.
 */
export function checkApiOptions(options: InngestApiOptions): void {
  const checked = optionsSchema.safeParse(options);
  if (!checked.success) {
    throw zodIssueError(checked.error, "options", BRACKETS);
  }
  if (options.mode === "start" && !options.signingKey) {
    throw new TroupeError("INVALID_ARGUMENT", "signingKey: required in start mode", {
      details: { field: "signingKey" },
    });
  }
  if (options.signingKeyFallbackUntil !== undefined && !options.signingKeyFallback) {
    throw new TroupeError(
      "INVALID_ARGUMENT",
      "signingKeyFallbackUntil: set without signingKeyFallback (the window closes on the fallback key)",
      { details: { field: "signingKeyFallbackUntil" } },
    );
  }
  if (options.mode === "start" && (options.eventKeys ?? []).length === 0) {
    throw new TroupeError(
      "INVALID_ARGUMENT",
      "eventKeys: at least one event key is required in start mode",
      {
        details: { field: "eventKeys" },
      },
    );
  }
}

/** `signingKeyFallbackUntil` as ms since the epoch (options already checked). */
export function fallbackUntilMs(options: InngestApiOptions): number | undefined {
  const until = options.signingKeyFallbackUntil;
  return typeof until === "string" ? Date.parse(until) : until;
}
