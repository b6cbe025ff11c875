import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import {
  type Clock,
  createIdGenerator,
  createMemoryStore,
  hasLoneSurrogate,
  type Logger,
  noopLogger,
  type PubSub,
  type Store,
  secretIn,
  systemClock,
  TroupeError,
  ulidTime,
  zodIssueError,
} from "@troupe/core";
import type { EventInput, FlowEvent, Flows, RunView } from "@troupe/flows";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { createCheckpointInbox, createStoreCheckpointInbox } from "./checkpoint.js";
import { type ConnectGateway, createConnectGateway } from "./connect/gateway.js";
import { mountConnectRoutes } from "./connect/routes.js";
import { eventIdsFromSeed } from "./event-id-seed.js";
import { createHttpDriver } from "./http-driver.js";
import { offloadPolicy } from "./offload.js";
import { mountOperationsRoutes } from "./operations-routes.js";
import { createRealtime } from "./realtime/realtime.js";
import { BRACKETS, registerSchema } from "./register-schema.js";
import { createAppRegistry, isClientError, type StoredApp } from "./registry.js";
import { DEFAULT_MAX_LIST_BYTES, pageNewestFirst } from "./rest-paging.js";
import { mountSignalRoutes } from "./signal-routes.js";
import { hashSigningKey } from "./signing.js";
import { pingAppForSync, type SyncResult } from "./sync-ping.js";

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
  /** A second key accepted during key rotation. */
  readonly signingKeyFallback?: string;
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
  eventKeys: z.array(z.string().min(1, "expected a non-empty event key")).optional(),
  prefix: z.string().min(1).optional(),
  maxRequestBodyBytes: z.number().int().positive().optional(),
  maxListBytes: z.number().int().positive().optional(),
});

/** Largest request body accepted (events, syncs, checkpoints): 32 MiB. */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

type RestStatus = "Running" | "Completed" | "Failed" | "Cancelled";

function restStatus(status: RunView["status"]): RestStatus {
  switch (status) {
    case "completed":
      return "Completed";
    case "failed":
      return "Failed";
    case "cancelled":
      return "Cancelled";
    default:
      return "Running";
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** A run in the shape of Inngest's REST v1 run object. */
export function toRestRun(run: RunView): Record<string, unknown> {
  return {
    run_id: run.id,
    function_id: run.functionId,
    status: restStatus(run.status),
    run_started_at: iso(run.startedAt ?? run.createdAt),
    ended_at: iso(run.endedAt),
    output:
      run.status === "failed" ? (run.output ?? { error: run.error ?? null }) : (run.output ?? null),
    event_id: run.events[0]?.id ?? null,
    batch_id: null,
    ...(run.error === undefined ? {} : { error: run.error }),
  };
}

function toRestEvent(event: FlowEvent): Record<string, unknown> {
  return {
    internal_id: event.id,
    id: event.dedupeId ?? event.id,
    name: event.name,
    data: event.data,
    ts: event.ts,
    received_at: new Date(ulidTime(event.id)).toISOString(),
    ...(event.user === undefined ? {} : { user: event.user }),
    ...(event.v === undefined ? {} : { v: event.v }),
  };
}

const eventBodySchema = z.looseObject({
  // A lone surrogate (`"\ud800"`) is valid JSON but no Unicode text: it cannot be stored or put
  // in a URL, so it is refused here rather than failing deep inside the engine.
  name: z.string().refine((name) => !hasLoneSurrogate(name), {
    message: "expected well-formed Unicode text (it holds a lone surrogate)",
  }),
  data: z.unknown().optional(),
  user: z.unknown().optional(),
  id: z.unknown().optional(),
  ts: z.unknown().optional(),
  v: z.unknown().optional(),
});

/** Keeps the event fields flows knows; drops SDK extras such as `meta`. */
function toEventInput(value: z.infer<typeof eventBodySchema>): EventInput {
  return {
    name: value.name,
    ...(value.data === undefined || value.data === null
      ? {}
      : { data: value.data as Record<string, unknown> }),
    ...(value.user === undefined || value.user === null
      ? {}
      : { user: value.user as Record<string, unknown> }),
    ...(value.id === undefined || value.id === null || value.id === ""
      ? {}
      : { id: value.id as string }),
    ...(value.ts === undefined || value.ts === null || value.ts === 0
      ? {}
      : { ts: value.ts as number }),
    ...(value.v === undefined || value.v === null || value.v === ""
      ? {}
      : { v: value.v as string }),
  };
}

/**
 * The Inngest-compatible API over a Troupe flows engine: app sync (`POST /fn/register`), the
 * event API (`POST /e/:key`), the HTTP driver that calls SDK apps, and the REST API scripts use
 * to read results (`/v1/events/:id/runs`, `/v1/runs/:id`, cancellation), plus `/health` and
 * `/dev`. Apps built with the official `inngest` SDK (v3 and v4) run against it unmodified.
 */
export function createInngestApi(options: InngestApiOptions): InngestApi {
  const { flows, mode } = options;
  const checked = optionsSchema.safeParse(options);
  if (!checked.success) {
    throw zodIssueError(checked.error, "options", BRACKETS);
  }
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const doFetch = options.fetch ?? globalThis.fetch;
  const prefix = options.prefix ?? "inngest/";
  const serverKind = mode === "dev" ? "dev" : "cloud";
  if (mode === "start" && !options.signingKey) {
    throw new TroupeError("INVALID_ARGUMENT", "signingKey: required in start mode", {
      details: { field: "signingKey" },
    });
  }
  if (mode === "start" && (options.eventKeys ?? []).length === 0) {
    throw new TroupeError(
      "INVALID_ARGUMENT",
      "eventKeys: at least one event key is required in start mode",
      {
        details: { field: "eventKeys" },
      },
    );
  }
  const store = options.store ?? createMemoryStore();
  if (!options.store) logger.info("inngest: no store given; synced apps are kept in memory only");
  const bearers = [options.signingKey, options.signingKeyFallback]
    .filter((key): key is string => typeof key === "string" && key !== "")
    .map((key) => `Bearer ${hashSigningKey(key)}`);

  const inbox = options.sharedCheckpoints
    ? createStoreCheckpointInbox(store, prefix, clock)
    : createCheckpointInbox(clock);
  let registryRef: ReturnType<typeof createAppRegistry> | undefined;
  let connectRef: ConnectGateway | undefined;
  const driver = createHttpDriver({
    resolve: (functionId) => registryRef?.get(functionId),
    ...(options.signingKey ? { signingKey: options.signingKey } : {}),
    ...(options.signingKeyFallback ? { signingKeyFallback: options.signingKeyFallback } : {}),
    serverKind,
    // Calls to Connect apps go over their workers' sockets.
    fetch: (input, init) =>
      connectRef && input instanceof URL && connectRef.handles(input)
        ? connectRef.fetch(input, init ?? {})
        : doFetch(input, init),
    ...(options.maxRequestBodyBytes === undefined
      ? {}
      : { maxRequestBodyBytes: options.maxRequestBodyBytes }),
    clock,
    logger,
    offload: offloadPolicy(mode, options.canFetchUrl),
    ...(options.checkpointing
      ? {
          extraContext: (request) => ({
            fn_id: request.functionId,
            qi_id: `${request.runId}:${request.stepId}`,
          }),
          takeCheckpointed: (runId: string) => inbox.take(runId),
        }
      : {}),
  });
  const registry = createAppRegistry({ flows, store, prefix, driver, clock, logger });
  registryRef = registry;
  const connect = createConnectGateway({
    sync: async (request) => registry.sync(registerSchema.parse(request)),
    ...(options.signingKey ? { signingKey: options.signingKey } : {}),
    clock,
    logger,
  });
  connectRef = connect;
  const loaded = registry.load();
  loaded.catch((error: unknown) => logger.error("inngest: loading stored apps failed", { error }));

  const app = new Hono();
  const realtime = createRealtime({
    ...(options.pubsub === undefined ? {} : { pubsub: options.pubsub }),
    prefix,
    signingKeys: [options.signingKey, options.signingKeyFallback].filter(
      (key): key is string => typeof key === "string" && key !== "",
    ),
    ...(options.realtimeTokenTtlMs === undefined ? {} : { tokenTtlMs: options.realtimeTokenTtlMs }),
    maxPublishBytes: MAX_BODY_BYTES,
    clock,
    logger,
  });

  const fail = (status: ContentfulStatusCode, message: string) =>
    new Response(JSON.stringify({ status, error: message }), {
      status,
      headers: { "content-type": "application/json", "x-inngest-server-kind": serverKind },
    });

  const authorized = (header: string | undefined) =>
    mode === "dev" || (header !== undefined && secretIn(header, bearers));

  app.use("*", async (c, next) => {
    await next();
    c.res.headers.set("x-inngest-server-kind", serverKind);
  });

  // Bodies are read whole; a cap keeps one request from exhausting memory.
  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => fail(413, `body: larger than ${MAX_BODY_BYTES} bytes`),
  });
  app.use("/e/*", limit);
  app.use("/fn/*", limit);
  app.use("/v1/checkpoint/*", limit);

  app.notFound((c) =>
    fail(404, `${c.req.method} ${c.req.path} is not part of Troupe's Inngest API`),
  );

  app.onError((error) => {
    if (isClientError(error)) return fail(400, error.message);
    if (TroupeError.isInstance(error, "NOT_FOUND")) return fail(404, error.message);
    logger.error("inngest: request failed", { error });
    return fail(500, error instanceof Error ? error.message : String(error));
  });

  const readJson = async (request: Request): Promise<unknown> => {
    const text = await request.text();
    if (text.trim() === "")
      throw new TroupeError("INVALID_ARGUMENT", "body: expected JSON, got an empty body", {
        details: { field: "body" },
      });
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new TroupeError(
        "INVALID_ARGUMENT",
        `body: is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
        {
          details: { field: "body" },
        },
      );
    }
  };

  // ---------------------------------------------------------------- app sync

  app.post("/fn/register", async (c) => {
    if (!authorized(c.req.header("authorization")))
      return fail(401, "Unauthorized: the signing key does not match");
    const expected = c.req.header("x-inngest-expected-server-kind");
    if (expected && expected !== serverKind) {
      // The SDK echoes the kind it was pinged by; a mismatch means two servers claim the app.
      return fail(
        400,
        `x-inngest-expected-server-kind: the app expects a ${expected} server, this one is ${serverKind}`,
      );
    }
    await loaded;
    const parsed = registerSchema.safeParse(await readJson(c.req.raw));
    if (!parsed.success) {
      return fail(400, zodIssueError(parsed.error, "body", BRACKETS).message);
    }
    const result = await registry.sync(parsed.data);
    logger.info("inngest: app synced", { app: result.appName, modified: result.modified });
    return c.json({ ok: true, modified: result.modified, app_id: result.appName });
  });

  // ---------------------------------------------------------------- events

  app.post("/e/:key", async (c) => {
    const key = c.req.param("key");
    if (key === "" || (mode === "start" && !secretIn(key, options.eventKeys ?? []))) {
      return c.json({ ids: [], status: 401, error: "Event key not found" }, 401);
    }
    let body: unknown;
    try {
      body = await readJson(c.req.raw);
    } catch (error) {
      return c.json(
        { ids: [], status: 400, error: error instanceof Error ? error.message : String(error) },
        400,
      );
    }
    const list = Array.isArray(body) ? body : [body];
    if (list.length > 5000) {
      return c.json({ ids: [], status: 400, error: "body: at most 5000 events per request" }, 400);
    }
    const inputs: EventInput[] = [];
    for (const [index, item] of list.entries()) {
      const parsed = eventBodySchema.safeParse(item);
      if (!parsed.success) {
        const root = Array.isArray(body) ? `events[${index}]` : "event";
        const { message } = zodIssueError(parsed.error, root, BRACKETS);
        return c.json({ ids: [], status: 400, error: message }, 400);
      }
      inputs.push(toEventInput(parsed.data));
    }
    // SDKs send a seed so that a retried send keeps its ids (and starts nothing twice).
    const seeded = eventIdsFromSeed(c.req.header("x-inngest-event-id-seed"), inputs.length);
    if (seeded) {
      inputs.forEach((input, index) => {
        const eventId = seeded[index];
        if (eventId !== undefined) inputs[index] = { ...input, eventId };
      });
    }
    try {
      const { ids } = await flows.send(inputs);
      return c.json({ ids, status: 200 });
    } catch (error) {
      if (isClientError(error)) return c.json({ ids: [], status: 400, error: error.message }, 400);
      throw error;
    }
  });

  // ---------------------------------------------------------------- probes

  app.get("/health", (c) => c.json({ status: 200, message: "OK" }));

  // It lists app URLs and function ids: in start mode only for holders of the signing key.
  app.get("/dev", (c) =>
    !authorized(c.req.header("authorization"))
      ? fail(401, "Unauthorized: the signing key does not match")
      : c.json({
          version: "troupe",
          startOpts: { dev: mode === "dev", sdkURLs: registry.apps().map((a) => a.url) },
          functions: registry
            .apps()
            .flatMap((a) =>
              a.functions.map((fn) => ({ id: fn.id, name: fn.name ?? fn.id, app: a.appName })),
            ),
          handlers: registry
            .apps()
            .map((a) => ({ url: a.url, sdk: a.sdk ?? null, app: a.appName })),
          features: {},
        }),
  );

  // ---------------------------------------------------------------- REST

  app.use("/v1/*", async (c, next) => {
    if (c.req.path.startsWith("/v1/checkpoint/") || authorized(c.req.header("authorization")))
      return next();
    return fail(401, "Unauthorized: the signing key does not match");
  });
  realtime.mount(app, fail);
  app.use("/v0/*", async (c, next) => {
    if (authorized(c.req.header("authorization"))) return next();
    return fail(401, "Unauthorized: the signing key does not match");
  });
  mountConnectRoutes(app, connect, fail);

  const limitOf = (raw: string | undefined, fallback: number) => {
    const limit = Number(raw ?? fallback);
    return Number.isInteger(limit) && limit > 0 ? Math.min(limit, 1000) : fallback;
  };

  const timeQuery = (raw: string | undefined, field: string) => {
    if (raw === undefined || raw === "") return undefined;
    const at = Date.parse(raw);
    if (!Number.isFinite(at)) {
      throw new TroupeError(
        "INVALID_ARGUMENT",
        `${field}: expected an RFC 3339 time, got ${JSON.stringify(raw)}`,
        {
          details: { field },
        },
      );
    }
    return at;
  };

  app.get("/v1/events", async (c) => {
    const name = c.req.query("name");
    const from = timeQuery(c.req.query("received_after"), "received_after");
    const to = timeQuery(c.req.query("received_before"), "received_before");
    // Bounded by bytes as well as count: a page of 512 KiB events would otherwise be huge.
    const page = await pageNewestFirst<FlowEvent>(
      ({ limit, to: before }) =>
        flows.listEvents({
          ...(name ? { name } : {}),
          ...(from === undefined ? {} : { from }),
          ...(before === undefined ? {} : { to: before }),
          limit,
          newestFirst: true,
        }),
      {
        limit: limitOf(c.req.query("limit"), 100),
        to,
        cursor: c.req.query("cursor"),
        maxBytes: options.maxListBytes ?? DEFAULT_MAX_LIST_BYTES,
        toJson: toRestEvent,
      },
    );
    return c.json({
      data: page.data,
      metadata: { fetched_at: new Date(clock.now()).toISOString() },
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
    });
  });

  app.get("/v1/events/:id", async (c) => {
    const event = await flows.getEvent(c.req.param("id"));
    if (!event) return fail(404, `event ${c.req.param("id")} not found`);
    return c.json({ data: toRestEvent(event) });
  });

  app.get("/v1/events/:id/runs", async (c) => {
    const runs = await runsOfEvent(c.req.param("id"));
    return c.json({
      data: runs.map(toRestRun),
      metadata: { fetched_at: new Date(clock.now()).toISOString() },
    });
  });

  app.get("/v1/runs/:id", async (c) => {
    const run = await flows.getRun(c.req.param("id"));
    if (!run) return fail(404, `run ${c.req.param("id")} not found`);
    return c.json({ data: toRestRun(run) });
  });

  const cancel = async (runId: string) => {
    const run = await flows.getRun(runId);
    if (!run) return fail(404, `run ${runId} not found`);
    await flows.cancel(runId, "cancelled through the REST API");
    const after = await flows.getRun(runId);
    return Response.json({ data: after ? toRestRun(after) : null });
  };
  app.delete("/v1/runs/:id", (c) => cancel(c.req.param("id")));
  app.post("/v1/runs/:id/cancel", (c) => cancel(c.req.param("id")));
  mountSignalRoutes(app, { flows, fail, readJson });

  app.get("/v0/runs/:id/batch", async (c) => {
    const run = await flows.getRun(c.req.param("id"));
    if (!run) return fail(404, `run ${c.req.param("id")} not found`);
    return c.json(
      run.events.map((event) => ({
        id: event.id,
        name: event.name,
        data: event.data,
        ts: event.ts,
        user: event.user ?? {},
      })),
    );
  });

  app.get("/v0/runs/:id/actions", async (c) => {
    const run = await flows.getRun(c.req.param("id"));
    if (!run) return fail(404, `run ${c.req.param("id")} not found`);
    const steps: Record<string, unknown> = {};
    for (const step of run.steps) {
      if (step.status === "completed") steps[step.hash] = { data: step.output ?? null };
      else if (step.status === "failed") steps[step.hash] = { error: step.error ?? null };
    }
    return c.json(steps);
  });

  mountOperationsRoutes(app, {
    flows,
    store,
    prefix,
    clock,
    newId: createIdGenerator(clock),
    hasFunction: (functionId) => registry.get(functionId) !== undefined,
  });

  // ---------------------------------------------------------------- checkpointing

  app.post("/v1/checkpoint/:runId/async", async (c) => {
    const runId = c.req.param("runId");
    if (mode === "start" && !authorized(c.req.header("authorization")))
      return fail(401, "Unauthorized");
    const parsed = z
      .looseObject({ run_id: z.string().optional(), steps: z.array(z.unknown()) })
      .safeParse(await readJson(c.req.raw));
    if (!parsed.success) {
      return fail(400, zodIssueError(parsed.error, "body", BRACKETS).message);
    }
    await inbox.put(runId, parsed.data.steps);
    return c.json({ ok: true });
  });

  /**
   * Runs an event started, from the engine's runs-by-event index: a batch run is listed under
   * each of its events, a debounced run under the event that closed the debounce.
   */
  const runsOfEvent = async (eventId: string): Promise<RunView[]> => {
    const { runs } = await flows.getEventRuns(eventId);
    const views = await Promise.all(runs.map((summary) => flows.getRun(summary.id)));
    return views.filter((run): run is RunView => run !== undefined);
  };

  return {
    app,
    ready: () => loaded,
    apps: () => registry.apps(),
    syncApp: (url) =>
      pingAppForSync(url, {
        signingKey: options.signingKey,
        serverKind,
        fetch: doFetch,
        clock,
      }),
    handleUpgrade: (request, socket, head) =>
      realtime.handleUpgrade(request, socket, head) || connect.handleUpgrade(request, socket, head),
    async close() {
      inbox.clear();
      await realtime.close();
      await connect.close();
    },
  };
}
