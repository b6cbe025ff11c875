// The public shape of a runtime: what createRuntime takes and what it returns.
import type { Streams } from "@troupe/actor-streams";
import type { ActorSystem } from "@troupe/actors";
import type { Clock, Logger } from "@troupe/core";
import type { EventData, FlowFunction, Flows } from "@troupe/flows";
import type { InngestApi, InngestApiOptions } from "@troupe/inngest";
import type { Hono } from "hono";
import type { RuntimeActorsOptions } from "./actors-routes.js";
import type { DashboardActors } from "./api/dashboard-api.js";
import type { DashboardStatsOptions } from "./api/stats.js";
import type { AppSyncState } from "./app-sync.js";
import type { RuntimeConfig, RuntimeMode } from "./config.js";
import type { PrometheusMetrics } from "./prometheus.js";
import type { ProtocolServers } from "./protocol-servers.js";
import type { StatsService } from "./stats/stats-service.js";
import type { RuntimeStorage } from "./storage.js";

/** Builds the Inngest API over a flows engine (`createInngestApi` of `@troupe/inngest`). */
export type InngestApiFactory = (options: InngestApiOptions) => InngestApi;

/** A group of extra routes mounted under `prefix`, behind the same auth (e.g. the actors API). */
export interface RouteGroup {
  /** Mount point, e.g. `/actors`. */
  readonly prefix: string;
  /** The routes. */
  readonly app: Hono;
}

/** Options of {@link createRuntime} beyond the configuration. */
export interface RuntimeOptions {
  /** `dev` (default) or `start`: start requires a signing key and an auth token. */
  readonly mode?: RuntimeMode;
  /** In-process TypeScript functions to run besides the synced SDK apps. */
  readonly functions?: readonly FlowFunction<unknown, EventData>[];
  /** Extra route groups, mounted before the Inngest API. */
  readonly routes?: readonly RouteGroup[];
  /** Where logs go. Default: pino on standard output at `config.log.level`. */
  readonly logger?: Logger;
  /** The only source of time. Default the system clock. */
  readonly clock?: Clock;
  /**
   * The Inngest API factory. Default `createInngestApi` from `@troupe/inngest`; `false` serves
   * no Inngest API (embedding flows only).
   */
  readonly inngest?: InngestApiFactory | false;
  /** The fetch the Inngest API calls SDK apps with. */
  readonly fetch?: typeof fetch;
  /**
   * The built dashboard (`apps/dashboard/dist`), served at `/`. Default: found by looking upwards
   * from this package for `apps/dashboard/dist` or `node_modules/@troupe/dashboard/dist`; `false`
   * serves none. The dashboard's JSON API under `/api` is served either way.
   */
  readonly dashboardDir?: string | false;
  /** A stats registry for the dashboard's stats page; without one, requests bring their own. */
  readonly stats?: DashboardStatsOptions;
  /**
   * Actor types to host (`{ definitions: [Counter], … }`, wins over `config.actors`): an actor
   * system on the runtime's Store, served at `/actors` and `/api/actors`. A `{ app }` instead
   * only mounts ready-made routes at `/api/actors`. Without either, `/api/actors` answers 501.
   */
  readonly actors?: RuntimeActorsOptions | DashboardActors;
}

/** Where a started runtime listens. */
export interface RuntimeAddress {
  /** `http://host:port`; for a wildcard interface, its loopback address (reachable locally). */
  readonly url: string;
  /** The interface the server is bound to, as configured (`127.0.0.1`, `0.0.0.0`, `::`, …). */
  readonly host: string;
  /** The port (useful when the config asked for 0). */
  readonly port: number;
}

/** A running Troupe: engines, storage and the HTTP server, with one lifecycle. */
export interface Runtime {
  /** The validated configuration. */
  readonly config: RuntimeConfig;
  /** `dev` or `start`. */
  readonly mode: RuntimeMode;
  /** The HTTP app (usable without listening, e.g. `runtime.app.request("/health")`). */
  readonly app: Hono;
  /** The flows engine. */
  readonly flows: Flows;
  /** The adapters chosen by `storage.url`. */
  readonly storage: RuntimeStorage;
  /** What `/metrics` renders. */
  readonly metrics: PrometheusMetrics;
  /** The runtime's logger. */
  readonly logger: Logger;
  /** The Inngest API (`@troupe/inngest`), when one is mounted. */
  readonly inngest: InngestApi | undefined;
  /** The actor system, once {@link Runtime.start} created it (when actors are configured). */
  readonly actors: ActorSystem | undefined;
  /** The actors' streams (`/actors/streams`), once {@link Runtime.start} created the actor system. */
  readonly streams: Streams | undefined;
  /** The per-actor stats service (`config.stats`), serving `/stats/actors` once started. */
  readonly stats: StatsService | undefined;
  /** The protocol servers (RESP, PostgreSQL) the config enables, once {@link Runtime.start} started them. */
  readonly protocols: ProtocolServers | undefined;
  /** Starts the flows worker and the actor system, listens, then syncs the configured apps. */
  start(): Promise<RuntimeAddress>;
  /**
   * Shuts down gracefully: new work is refused (503, health reports draining), the flows worker
   * stops claiming and finishes the steps in hand (acknowledging their leases) while the actor
   * system finishes its turns and saves its actors, the HTTP server closes, then the adapters.
   * Waits at most `shutdownTimeoutMs` for in-flight work. Idempotent.
   */
  stop(): Promise<void>;
  /** Where each configured app's sync stands. */
  appSyncStates(): AppSyncState[];
  /** The folder the dashboard is served from, or undefined when none is built. */
  readonly dashboardDir: string | undefined;
}
