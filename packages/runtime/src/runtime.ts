import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { getRequestListener } from "@hono/node-server";
import { type Clock, invalidArgument, systemClock, TroupeError } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { createInngestApi } from "@troupe/inngest";
import { Hono } from "hono";
import {
  accessControl,
  auditTrail,
  createAccessRoutes,
  createAuditLog,
  createTokenRegistry,
  principalResolver,
  signingKeyOptions,
  signingKeyringOf,
} from "./access/index.js";
import { createProtocolAccess } from "./access/protocol-access.js";
import {
  createActorsRoutes,
  parseRuntimeActors,
  type RuntimeActors,
  startRuntimeActors,
} from "./actors-routes.js";
import { createDashboardApi, type DashboardActors } from "./api/dashboard-api.js";
import { createAppSync } from "./app-sync.js";
import { SDK_PATHS } from "./auth.js";
import type { RuntimeConfig } from "./config.js";
import { findDashboardDir, serveDashboard } from "./dashboard-static.js";
import { createPinoLogger } from "./logger.js";
import { mcpHandler } from "./mcp/mcp-server.js";
import { createPrometheusMetrics, PROMETHEUS_CONTENT_TYPE } from "./prometheus.js";
import {
  type ProtocolServers,
  planProtocolServers,
  startProtocolServers,
  withProtocolActors,
} from "./protocol-servers.js";
import { flowsRetention } from "./retention-config.js";
import type { RouteGroup, Runtime, RuntimeAddress, RuntimeOptions } from "./runtime-types.js";
import { isSyncAllowed } from "./security/app-sync-policy.js";
import { bodyGuard } from "./security/body-guard.js";
import { isAllowedHost, localRequestGuard } from "./security/local-request-guard.js";
import { assertStartConfig } from "./start-config.js";
import { createStatsFastRead, fastReadCounter } from "./stats/stats-fast-read.js";
import { createStatsRoutes } from "./stats/stats-routes.js";
import { createStatsService } from "./stats/stats-service.js";
import { openStorage } from "./storage.js";
import { createStreamsRoutes } from "./streams-routes.js";
import { deriveWorkerId } from "./worker-identity.js";
import { acquireWorkerIdentity, type WorkerIdentityLease } from "./worker-identity-lease.js";

export type {
  InngestApiFactory,
  RouteGroup,
  Runtime,
  RuntimeAddress,
  RuntimeOptions,
} from "./runtime-types.js";
export { assertStartConfig };

// Requests an SDK makes while one of its runs is in flight (checkpoints, batch reads): they stay
// open while draining, so the steps being finished can report their results.
const DRAIN_OPEN: readonly RegExp[] = [
  /^\/v1\/checkpoint(\/|$)/,
  /^\/v1\/http\/runs\//,
  /^\/v0\/runs\/[^/]+\/(batch|actions)$/,
];

function withTimeout<T>(
  work: Promise<T>,
  ms: number,
  clock: Clock,
): Promise<{ done: true; value: T } | { done: false }> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimer(ms, () => resolve({ done: false }));
    work.then(
      (value) => {
        timer.cancel();
        resolve({ done: true, value });
      },
      (error: unknown) => {
        timer.cancel();
        reject(error);
      },
    );
  });
}

/**
 * Composes Troupe from a validated configuration: the storage adapters its URL names, the flows
 * engine on them, the Inngest-compatible API, `/health`, `/metrics` and optional bearer auth on
 * one Hono app. Nothing listens or runs until {@link Runtime.start}.
 */
export function createRuntime(config: RuntimeConfig, options: RuntimeOptions = {}): Runtime {
  const mode = options.mode ?? "dev";
  if (mode === "start") assertStartConfig(config);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createPinoLogger({ level: config.log.level });
  const metrics = createPrometheusMetrics();
  const storage = openStorage({
    url: config.storage.url,
    schema: config.storage.schema,
    prefix: config.storage.prefix,
    queueName: config.storage.queueName,
    // A production server acknowledges events and writes: each must survive a power loss.
    synchronous: config.storage.synchronous ?? (mode === "start" ? "full" : "normal"),
    clock,
    logger: logger.child({ component: "storage" }),
  });
  const protocolPlan = planProtocolServers(config);
  const actorsOption = withProtocolActors(
    options.actors !== undefined && "definitions" in options.actors
      ? parseRuntimeActors(options.actors, "options.actors")
      : config.actors,
    protocolPlan,
  );
  let actorsHost: RuntimeActors | undefined;
  const actorRoutes =
    actorsOption === undefined
      ? undefined
      : createActorsRoutes({
          system: () => actorsHost?.system,
          logger: logger.child({ component: "actors" }),
        });
  const dashboardActors: DashboardActors | undefined = actorRoutes
    ? { app: actorRoutes }
    : options.actors !== undefined && !("definitions" in options.actors)
      ? options.actors
      : undefined;
  const statsService =
    config.stats === undefined
      ? undefined
      : createStatsService({
          config: config.stats,
          store: storage.store,
          pubsub: storage.pubsub,
          metrics,
          clock,
          logger: logger.child({ component: "stats" }),
        });
  const routeGroups: readonly RouteGroup[] = [
    ...(options.routes ?? []),
    ...(statsService && config.stats
      ? [{ prefix: "/stats/actors", app: createStatsRoutes(statsService, config.stats) }]
      : []),
    // Before `/actors`, whose `POST /:type/:key/:action` would take `/actors/streams/…`.
    ...(actorRoutes
      ? [
          {
            prefix: "/actors/streams",
            app: createStreamsRoutes({
              streams: () => actorsHost?.streams,
              logger: logger.child({ component: "streams" }),
            }),
          },
          { prefix: "/actors", app: actorRoutes },
        ]
      : []),
  ];
  const flows = createFlows({
    store: storage.store,
    queue: storage.queue,
    pubsub: storage.pubsub,
    clock,
    functions: options.functions ?? [],
    logger: logger.child({ component: "flows" }),
    metrics,
    ...(config.flows.workerConcurrency === undefined
      ? {}
      : { workerConcurrency: config.flows.workerConcurrency }),
    ...(config.flows.leaseMs === undefined ? {} : { leaseMs: config.flows.leaseMs }),
    ...(config.flows.pollIntervalMs === undefined
      ? {}
      : { pollIntervalMs: config.flows.pollIntervalMs }),
    ...(config.retention === undefined ? {} : { retention: flowsRetention(config.retention) }),
  });

  const factory = options.inngest === false ? undefined : (options.inngest ?? createInngestApi);
  const inngest = factory?.({
    flows,
    mode,
    // Synced apps live beside the runs, so their functions come back after a restart.
    store: storage.store,
    // Realtime publishes reach subscribers connected to any process on the same storage.
    pubsub: storage.pubsub,
    checkpointing: config.inngest.checkpointing,
    maxListBytes: config.security.listLimitBytes,
    logger: logger.child({ component: "inngest" }),
    clock,
    ...signingKeyOptions(config.inngest),
    ...(config.inngest.eventKeys.length > 0 ? { eventKeys: config.inngest.eventKeys } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    // Offloaded step requests get the app-sync policy: start mode contacts listed prefixes only.
    ...(mode === "start"
      ? {
          canFetchUrl: (url: string) => isSyncAllowed(url, [], config.security.offloadAllowlist),
        }
      : {}),
  });

  const requests = metrics.counter("troupe_http_requests_total", {
    help: "HTTP requests answered, by method and status",
  });
  const requestDuration = metrics.histogram("troupe_http_request_duration_ms", {
    help: "Time to answer an HTTP request, ms",
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
  });
  const up = metrics.gauge("troupe_up", { help: "1 while the runtime serves, 0 while draining" });
  up.set(0, { mode, storage: storage.kind });
  const queueItems = metrics.gauge("troupe_queue_items", {
    help: "Work items in the queue by state, read at scrape time",
  });
  const residentMemory = metrics.gauge("process_resident_memory_bytes", {
    help: "Resident memory size in bytes",
  });
  const heapUsed = metrics.gauge("nodejs_heap_used_bytes", { help: "V8 heap in use, bytes" });
  const cpuSeconds = metrics.counter("process_cpu_seconds_total", {
    help: "User and system CPU time spent, seconds",
  });
  let cpuReported = 0;
  const collect = async () => {
    const memory = process.memoryUsage();
    residentMemory.set(memory.rss);
    heapUsed.set(memory.heapUsed);
    const cpu = process.cpuUsage();
    // A counter only goes up: report the CPU time used since the last scrape.
    const cpuTotal = (cpu.user + cpu.system) / 1e6;
    cpuSeconds.inc(cpuTotal - cpuReported);
    cpuReported = cpuTotal;
    try {
      const counts = await storage.queue.counts();
      queueItems.set(counts.waiting, { state: "waiting" });
      queueItems.set(counts.leased, { state: "leased" });
    } catch (error) {
      // A scrape must still answer when the database does not; the gauges keep their last value.
      logger.warn("metrics: cannot read queue counts", { error });
    }
  };

  const registry = createTokenRegistry({
    store: storage.store,
    clock,
    ...(config.auth.tokenCacheMs === undefined ? {} : { cacheMs: config.auth.tokenCacheMs }),
  });
  const auditLog = createAuditLog({
    store: storage.store,
    clock,
    logger: logger.child({ component: "audit" }),
    retentionMs: config.audit.retentionDays * 24 * 3600 * 1000,
  });

  // The RESP and PG-wire servers take the same tokens, scopes and audit log as HTTP.
  const protocolAccess =
    config.auth.token === undefined
      ? undefined
      : createProtocolAccess({
          rootToken: config.auth.token,
          registry,
          audit: auditLog,
          events: config.audit.events,
          keyWrites: config.resp.auditWrites,
          recheckMs: Math.min(100, config.auth.tokenCacheMs ?? 1000),
        });

  let draining = false;
  const app = new Hono();
  app.use("*", async (context, next) => {
    const started = performance.now();
    await next();
    requests.inc(1, { method: context.req.method, status: String(context.res.status) });
    requestDuration.observe(performance.now() - started, { method: context.req.method });
  });
  app.use("*", async (context, next) => {
    if (draining && !DRAIN_OPEN.some((pattern) => pattern.test(context.req.path))) {
      context.header("Connection", "close");
      return context.json({ status: 503, message: "Troupe is shutting down" }, 503);
    }
    return next();
  });
  const { security } = config;
  const routePrefixes = routeGroups.map(
    (group) => new RegExp(`^${group.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(/|$)`),
  );
  if (mode === "dev") {
    // Dev has no auth: host, origin and content-type checks keep web pages out.
    app.use(
      "*",
      localRequestGuard({
        allowedHosts: security.allowedHosts,
        allowedOrigins: security.allowedOrigins,
        bindHost: config.server.host,
        jsonOnlyPaths: [/^\/api(\/|$)/, /^\/actors(\/|$)/, /^\/stats\/actors(\/|$)/],
      }),
    );
  }
  const dashboardDir =
    options.dashboardDir === false ? undefined : (options.dashboardDir ?? findDashboardDir());
  if (dashboardDir !== undefined) {
    // Before auth: the static files hold no data, and the login page must load without a token.
    app.use("*", serveDashboard({ dir: dashboardDir, reserved: routePrefixes }));
  }
  // Before authentication, so refused attempts are recorded too.
  app.use("*", auditTrail({ log: auditLog, events: config.audit.events }));
  let principalFor: ReturnType<typeof principalResolver> | undefined;
  // Read at each request: the fallback key is refused once its rotation window closes.
  const signingKeys = signingKeyringOf(config.inngest, clock);
  if (config.auth.token !== undefined) {
    // In start mode the Inngest API guards its own REST routes with the signing key (as Inngest
    // does); one guard per path, so a token never passes here only to be refused there.
    const publicPaths = inngest && mode === "start" ? [...SDK_PATHS, /^\/v[01]\//] : SDK_PATHS;
    principalFor = principalResolver({ rootToken: config.auth.token, signingKeys, registry });
    app.use(
      "*",
      accessControl({ rootToken: config.auth.token, signingKeys, registry, publicPaths }),
    );
  }
  // After auth, so nobody without the token makes the server read a body.
  app.use(
    "*",
    bodyGuard({
      limits: {
        defaultBytes: security.bodyLimitBytes,
        eventBytes: security.eventBodyLimitBytes,
        sdkBytes: security.sdkBodyLimitBytes,
      },
    }),
  );
  // The shape Inngest's dev server answers, which SDK tooling and probes already understand.
  app.get("/health", (context) => context.json({ status: 200, message: "OK" }));
  app.get("/metrics", async (context) => {
    await collect();
    context.header("Content-Type", PROMETHEUS_CONTENT_TYPE);
    return context.body(metrics.render());
  });
  app.route("/api", createAccessRoutes(registry, auditLog, signingKeys));
  app.route(
    "/api",
    createDashboardApi({
      flows,
      inngest: inngest && {
        ...inngest,
        syncApp: async (url: string) => {
          const result = await inngest.syncApp(url);
          if (!result.ok) logger.warn("app sync failed", { url, ...result });
          return result;
        },
      },
      listLimitBytes: security.listLimitBytes,
      // Start mode contacts only configured apps, and says no more than "failed" (the log has
      // the reason): otherwise the sync would scan the network behind the server for its caller.
      ...(mode === "start"
        ? {
            canSyncUrl: (url: string) => isSyncAllowed(url, config.apps, security.appSyncAllowlist),
            uniformSyncErrors: true,
          }
        : {}),
      ...(options.functions ? { functions: options.functions } : {}),
      stats: options.stats,
      actors: dashboardActors,
      info: { mode, storage: storage.kind, auth: config.auth.token !== undefined },
    }),
  );
  // MCP for coding assistants: each tool checks its token's scope and audits what it changes.
  app.all(
    "/mcp",
    mcpHandler({
      flows,
      inngest,
      functions: options.functions,
      actors: () => actorsHost?.system,
      stats: statsService,
      audit: auditLog,
      auditEvents: config.audit.events,
    }),
  );
  for (const group of routeGroups) app.route(group.prefix, group.app);
  if (inngest) app.route("/", inngest.app);
  app.onError((error, context) => {
    if (TroupeError.isInstance(error, "INVALID_ARGUMENT")) {
      return context.json({ status: 400, message: error.message }, 400);
    }
    if (TroupeError.isInstance(error, "NOT_FOUND")) {
      return context.json({ status: 404, message: error.message }, 404);
    }
    logger.error("request failed", { path: context.req.path, error });
    return context.json({ status: 500, message: "internal error" }, 500);
  });

  const appSync = createAppSync({
    urls: config.apps,
    sync: async (url) => {
      if (!inngest) throw new TroupeError("UNAVAILABLE", "no Inngest API is mounted");
      const result = await inngest.syncApp(url);
      if (!result.ok) throw new Error(`status ${result.status}: ${result.message}`);
      return result;
    },
    intervalMs: config.appSyncIntervalMs,
    keepSyncing: config.appResync ?? mode === "dev",
    clock,
    logger: logger.child({ component: "apps" }),
  });

  let server: Server | undefined;
  let protocols: ProtocolServers | undefined;
  let address: RuntimeAddress | undefined;
  let stopping: Promise<void> | undefined;

  // GET /stats/actors/:id of an L1 snapshot skips the Hono chain (same checks, same answer).
  const fastRead =
    statsService &&
    createStatsFastRead({
      service: statsService,
      principalFor,
      hostAllowed:
        mode === "dev"
          ? (hostname) => isAllowedHost(hostname, security.allowedHosts, config.server.host)
          : undefined,
      draining: () => draining,
      served: fastReadCounter(metrics, requests, requestDuration),
    });

  const listen = (host: string, port: number) =>
    new Promise<Server>((resolve, reject) => {
      const honoListener = getRequestListener(app.fetch);
      const created = createServer(
        fastRead ? (request, response) => fastRead(request, response, honoListener) : honoListener,
      );
      // WebSocket upgrades: Inngest realtime subscriptions; anything else is refused.
      created.on("upgrade", (request, socket, head) => {
        if (!inngest?.handleUpgrade(request, socket, head)) socket.destroy();
      });
      const onError = (error: NodeJS.ErrnoException) => {
        reject(
          error.code === "EADDRINUSE"
            ? invalidArgument("server.port", `port ${port} on ${host} is already in use`)
            : new TroupeError("UNAVAILABLE", `cannot listen on ${host}:${port}: ${error.message}`, {
                cause: error,
              }),
        );
      };
      created.once("error", onError);
      created.listen(port, host, () => {
        created.off("error", onError);
        resolve(created);
      });
    });

  const closeServer = async (target: Server) => {
    const closed = new Promise<void>((resolve) => target.close(() => resolve()));
    target.closeIdleConnections();
    const finished = await withTimeout(closed, Math.min(config.shutdownTimeoutMs, 5000), clock);
    if (!finished.done) {
      target.closeAllConnections();
      await closed;
    }
  };

  let identity: WorkerIdentityLease | undefined;
  const derivedWorkerId = () =>
    deriveWorkerId({
      host: os.hostname(),
      port: config.server.port,
      storageUrl: config.storage.url,
      cwd: process.cwd(),
      nodeId: actorsOption?.nodeId,
    });

  const stop = async () => {
    draining = true;
    up.set(0, { mode, storage: storage.kind });
    logger.info("shutting down: refusing new work, finishing in-flight steps");
    await appSync.stop();
    // Actor turns in flight finish (their HTTP callers get replies) while the worker drains;
    // the system's own drainTimeoutMs bounds it.
    await protocols?.close();
    const actorsClosed = actorsHost?.close().catch((error: unknown) => {
      logger.error("actor system did not close cleanly", { error });
    });
    const flowsStopped = await withTimeout(flows.stop(), config.shutdownTimeoutMs, clock);
    if (!flowsStopped.done) {
      logger.warn(
        "in-flight steps did not finish in time; their leases lapse and another worker retries them",
        {
          shutdownTimeoutMs: config.shutdownTimeoutMs,
        },
      );
    }
    await actorsClosed;
    await statsService?.close();
    // Only a worker that drained gives up its identity; otherwise a restart takes its leases back.
    await identity?.release({ keepRecord: !flowsStopped.done });
    await inngest?.close();
    if (server) await closeServer(server);
    server = undefined;
    await storage.close();
    logger.info("stopped");
  };

  return {
    config,
    mode,
    app,
    flows,
    storage,
    metrics,
    logger,
    inngest,
    get actors() {
      return actorsHost?.system;
    },
    get streams() {
      return actorsHost?.streams;
    },
    get protocols() {
      return protocols;
    },
    stats: statsService,
    async start() {
      if (address) return address;
      if (stopping) throw new TroupeError("CLOSED", "the runtime was stopped; create a new one");
      // The adapter package loads on demand: a missing one stops the start, naming it.
      await storage.ready();
      // Functions of apps synced before a restart must be registered before work is claimed.
      await inngest?.ready();
      identity = await acquireWorkerIdentity({
        store: storage.store,
        clock,
        logger,
        workerId: config.flows.workerId ?? derivedWorkerId(),
      });
      await flows.start({ workerId: identity.workerId });
      // Loopback unless configured, in start mode too: exposing a server is a decision.
      const host = config.server.host ?? "127.0.0.1";
      try {
        // A bad registry file stops the start, naming the file and field.
        await statsService?.start();
        if (actorsOption !== undefined && actorsHost === undefined) {
          actorsHost = await startRuntimeActors({
            actors: actorsOption,
            store: storage.store,
            pubsub: storage.pubsub,
            // A queue of its own: the flows worker claims every item of the runtime's queue.
            queue: storage.openQueue(
              actorsOption.queueName ?? `${config.storage.queueName}.actors`,
            ),
            clock,
            logger: logger.child({ component: "actors" }),
            metrics,
            drainTimeoutMs: config.shutdownTimeoutMs,
          });
        }
        server = await listen(host, config.server.port);
        protocols = await startProtocolServers({
          ...{ plan: protocolPlan, mode, host, access: protocolAccess, clock, logger, metrics },
          ...{ system: actorsHost?.system, store: storage.store, pubsub: storage.pubsub, flows },
          ...{ functions: options.functions, inngest },
        });
      } catch (error) {
        server?.close();
        await actorsHost?.close();
        actorsHost = undefined;
        await flows.stop();
        await identity?.release();
        throw error;
      }
      const port = (server.address() as AddressInfo).port;
      const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
      address = {
        url: `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${port}`,
        host,
        port,
      };
      up.set(1, { mode, storage: storage.kind });
      logger.info("listening", { url: address.url, host, mode, storage: storage.displayUrl });
      // Not awaited: an app that is down or slow must not hold up the server; failures retry.
      void appSync.start();
      return address;
    },
    stop() {
      stopping ??= stop();
      return stopping;
    },
    appSyncStates: () => appSync.states(),
    dashboardDir,
  };
}
