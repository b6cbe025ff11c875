import {
  createIdGenerator,
  createMemoryStore,
  noopLogger,
  systemClock,
  TroupeError,
} from "@troupe/core";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { createApiAuth, guardWithSigningKey } from "./api-auth.js";
import { failReply, hasServerKind, jsonReply, MAX_BODY_BYTES, readJson } from "./api-http.js";
import {
  checkApiOptions,
  fallbackUntilMs,
  type InngestApi,
  type InngestApiOptions,
} from "./api-options.js";
import { mountAppRoutes } from "./app-routes.js";
import { createCheckpointInbox, createStoreCheckpointInbox } from "./checkpoint.js";
import { mountCheckpointRoutes } from "./checkpoint-routes.js";
import { type ConnectGateway, createConnectGateway } from "./connect/gateway.js";
import { mountConnectRoutes } from "./connect/routes.js";
import { mountEventRoutes } from "./event-routes.js";
import { createHttpDriver } from "./http-driver.js";
import { offloadPolicy } from "./offload.js";
import { mountOperationsRoutes } from "./operations-routes.js";
import { createRealtime } from "./realtime/realtime.js";
import { registerSchema } from "./register-schema.js";
import { createAppRegistry, isClientError } from "./registry.js";
import { mountRestRoutes, mountRunInputRoutes } from "./rest-routes.js";
import { mountSignalRoutes } from "./signal-routes.js";
import { createSigningKeyring } from "./signing-keys.js";
import { pingAppForSync } from "./sync-ping.js";

export type { InngestApi, InngestApiOptions } from "./api-options.js";
export { toRestRun } from "./rest-shapes.js";

/**
 * The Inngest-compatible API over a Troupe flows engine: app sync (`POST /fn/register`), the
 * event API (`POST /e/:key`), the HTTP driver that calls SDK apps, and the REST API scripts use
 * to read results (`/v1/events/:id/runs`, `/v1/runs/:id`, cancellation), plus `/health` and
 * `/dev`. Apps built with the official `inngest` SDK (v3 and v4) run against it unmodified.
 * This file wires the parts together; each route group lives in its own file.
 */
export function createInngestApi(options: InngestApiOptions): InngestApi {
  const { flows, mode } = options;
  checkApiOptions(options);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const doFetch = options.fetch ?? globalThis.fetch;
  const prefix = options.prefix ?? "inngest/";
  const serverKind = mode === "dev" ? "dev" : "cloud";
  const store = options.store ?? createMemoryStore();
  if (!options.store) logger.info("inngest: no store given; synced apps are kept in memory only");
  const fallbackUntil = fallbackUntilMs(options);
  const keyring = createSigningKeyring(
    {
      signingKey: options.signingKey,
      signingKeyFallback: options.signingKeyFallback,
      signingKeyFallbackUntil: fallbackUntil,
    },
    clock,
  );
  if (
    mode === "start" &&
    options.signingKeyFallback &&
    options.signingKeyFallbackUntil === undefined
  )
    logger.warn(
      "inngest: signingKeyFallback has no signingKeyFallbackUntil; the old key is accepted until it is removed",
    );
  const auth = createApiAuth(mode, keyring);

  const inbox = options.sharedCheckpoints
    ? createStoreCheckpointInbox(store, prefix, clock)
    : createCheckpointInbox(clock);
  let registryRef: ReturnType<typeof createAppRegistry> | undefined;
  let connectRef: ConnectGateway | undefined;
  const driver = createHttpDriver({
    resolve: (functionId) => registryRef?.get(functionId),
    ...(options.signingKey ? { signingKey: options.signingKey } : {}),
    ...(options.signingKeyFallback ? { signingKeyFallback: options.signingKeyFallback } : {}),
    ...(fallbackUntil === undefined ? {} : { signingKeyFallbackUntil: fallbackUntil }),
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
    // Tokens are issued with the primary; the fallback verifies tokens issued before the
    // rotation (they live `realtimeTokenTtlMs`) while its window is open, read at each check.
    signingKeys: () => keyring.acceptedKeys(),
    ...(options.realtimeTokenTtlMs === undefined ? {} : { tokenTtlMs: options.realtimeTokenTtlMs }),
    maxPublishBytes: MAX_BODY_BYTES,
    clock,
    logger,
  });

  const fail = failReply(serverKind);

  app.use("*", async (c, next) => {
    await next();
    if (!hasServerKind(c.res)) c.res.headers.set("x-inngest-server-kind", serverKind);
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

  const onError = (error: unknown) => {
    if (isClientError(error)) return fail(400, error.message);
    if (TroupeError.isInstance(error, "NOT_FOUND")) return fail(404, error.message);
    logger.error("inngest: request failed", { error });
    return fail(500, error instanceof Error ? error.message : String(error));
  };
  app.onError(onError);

  // Registration order matters: each guard must precede the routes it covers.
  mountAppRoutes(app, { mode, serverKind, registry, loaded, auth, fail, logger });
  mountEventRoutes(app, { flows, mode, eventKeys: options.eventKeys ?? [] });
  guardWithSigningKey(app, "/v1/*", auth, fail, (path) => path.startsWith("/v1/checkpoint/"));
  realtime.mount(app, fail, jsonReply(serverKind));
  guardWithSigningKey(app, "/v0/*", auth, fail);
  mountConnectRoutes(app, connect, fail);
  const restDeps = { flows, fail, clock, maxListBytes: options.maxListBytes };
  mountRestRoutes(app, restDeps);
  mountSignalRoutes(app, { flows, fail, readJson });
  mountRunInputRoutes(app, restDeps);
  mountOperationsRoutes(app, {
    flows,
    store,
    prefix,
    clock,
    newId: createIdGenerator(clock),
    hasFunction: (functionId) => registry.get(functionId) !== undefined,
  });
  mountCheckpointRoutes(app, { mode, inbox, auth, fail });

  // A JSON publish is answered ahead of the router (the same checks and replies as its route,
  // without Hono's per-request objects); every other request, and `app.request`, go through it.
  const publishFast = realtime.publishFastPath({
    authorized: (header) => auth.authorized(header ?? undefined),
    fail,
    reply: jsonReply(serverKind),
    onError,
  });
  const route = app.fetch;
  app.fetch = (request, ...rest) => publishFast(request) ?? route(request, ...rest);

  return {
    app,
    ready: () => loaded,
    apps: () => registry.apps(),
    signingKeys: () => keyring.status(),
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
