import type { ActorSystem, AnyActorDefinition } from "@troupe/actors";
import {
  type Clock,
  type Logger,
  type Metrics,
  type PubSub,
  type Store,
  TroupeError,
} from "@troupe/core";
import type { EventData, FlowFunction, Flows } from "@troupe/flows";
import type { InngestApi } from "@troupe/inngest";
import type { FunctionRow, PgAccess, PgServer } from "@troupe/pgwire";
import {
  createRespServer,
  defineRespKeyActor,
  type RespAccess,
  type RespKeyActor,
  type RespServer,
} from "@troupe/resp";
import { z } from "zod";
import type { RuntimeActorsOptions } from "./actors-routes.js";

/** The Redis-protocol server's port in `troupe dev`. */
export const DEFAULT_RESP_PORT = 6380;

/** The PostgreSQL-protocol server's port in `troupe dev`. */
export const DEFAULT_PGWIRE_PORT = 5433;

const port = (fallback: number) =>
  z
    .number({ error: "expected a port number" })
    .int("expected an integer")
    .min(0, "expected 0-65535")
    .max(65_535, "expected 0-65535")
    .default(fallback);

/** The `resp` section of the runtime config: a Redis-protocol server over actors. */
export const respConfigSchema = z
  .strictObject({
    /** Serve it. Default off; `troupe dev` turns it on unless the config says otherwise. */
    enabled: z.boolean({ error: "expected true or false" }).optional(),
    /** Interface to listen on. Default the HTTP server's. */
    host: z.string().min(1, "expected a host name or address").optional(),
    /** Port. Default 6380. */
    port: port(DEFAULT_RESP_PORT),
    /** Largest single argument (a value), in bytes. Default 8 MiB. */
    maxBulkBytes: z.number().int().positive().optional(),
    /** Most open connections. Default 10,000. */
    maxConnections: z.number().int().positive().optional(),
    /** Close connections idle this long, in ms; 0 never. Default 300,000. */
    idleTimeoutMs: z.number().int().nonnegative().default(300_000),
    /** Record key writes (`SET`, `DEL`…) in the audit log too; actor calls always are. Default false. */
    auditWrites: z.boolean({ error: "expected true or false" }).default(false),
    /** How long after a write a key's state is saved, in ms (a crash loses at most this window). Default 1000. */
    saveDelayMs: z.number().int().nonnegative().optional(),
  })
  .prefault({});

/** The validated `resp` section. */
export type RespConfig = z.output<typeof respConfigSchema>;

/** The `pgwire` section of the runtime config: a PostgreSQL-protocol server over Troupe. */
export const pgwireConfigSchema = z
  .strictObject({
    /** Serve it. Default off; `troupe dev` turns it on unless the config says otherwise. */
    enabled: z.boolean({ error: "expected true or false" }).optional(),
    /** Interface to listen on. Default the HTTP server's. */
    host: z.string().min(1, "expected a host name or address").optional(),
    /** Port. Default 5433. */
    port: port(DEFAULT_PGWIRE_PORT),
    /** Largest message (a query with its parameters), in bytes. Default 1 MiB. */
    maxQueryBytes: z.number().int().min(1024).optional(),
    /** Most rows one table scan reads. Default 10,000. */
    maxScanRows: z.number().int().positive().optional(),
    /** Most open connections. Default 1,000. */
    maxConnections: z.number().int().positive().optional(),
    /** Close connections idle this long, in ms; 0 never. Default 300,000. */
    idleTimeoutMs: z.number().int().nonnegative().default(300_000),
  })
  .prefault({});

/** The validated `pgwire` section. */
export type PgwireConfig = z.output<typeof pgwireConfigSchema>;

/** The config sections this file reads. */
export interface ProtocolConfig {
  readonly resp: RespConfig;
  readonly pgwire: PgwireConfig;
}

/** What the protocol servers need from the runtime before it starts: their actor types. */
export interface ProtocolPlan {
  readonly config: ProtocolConfig;
  /** The Redis key actor type, when the RESP server is enabled. */
  readonly respKey: RespKeyActor | undefined;
}

/** Works out the actor types the enabled protocol servers need. */
export function planProtocolServers(config: ProtocolConfig): ProtocolPlan {
  return {
    config,
    respKey:
      config.resp.enabled === true
        ? defineRespKeyActor(
            config.resp.saveDelayMs === undefined ? {} : { saveDelayMs: config.resp.saveDelayMs },
          )
        : undefined,
  };
}

/**
 * The runtime's actors option with the protocol servers' actor types added (an actor system is
 * created for them when none is configured).
 */
export function withProtocolActors(
  actors: RuntimeActorsOptions | undefined,
  plan: ProtocolPlan,
): RuntimeActorsOptions | undefined {
  const extra: AnyActorDefinition[] = plan.respKey === undefined ? [] : [plan.respKey];
  if (extra.length === 0) return actors;
  const names = new Set((actors?.definitions ?? []).map((definition) => definition.name));
  const added = extra.filter((definition) => !names.has(definition.name));
  return { ...actors, definitions: [...(actors?.definitions ?? []), ...added] };
}

/** What {@link startProtocolServers} runs on. */
export interface ProtocolServersOptions {
  readonly plan: ProtocolPlan;
  /** `dev`: a busy default port is logged and skipped instead of failing the start. */
  readonly mode: "dev" | "start";
  /** The HTTP server's interface, used when a section names none. */
  readonly host: string;
  /**
   * Scoped-token access (the root token, scoped tokens, the audit log), when the runtime has a
   * token: `AUTH <token>` on RESP, the password on PG-wire.
   */
  readonly access: (RespAccess & PgAccess) | undefined;
  readonly system: ActorSystem | undefined;
  readonly store: Store;
  readonly pubsub: PubSub;
  readonly flows: Flows;
  /** In-process functions, for the `functions` table. */
  readonly functions?: readonly FlowFunction<unknown, EventData>[] | undefined;
  /** The Inngest API, whose synced apps' functions the `functions` table lists. */
  readonly inngest?: InngestApi | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/** The protocol servers a runtime started. */
export interface ProtocolServers {
  /** The Redis-protocol server, when started. */
  readonly resp: RespServer | undefined;
  /** The PostgreSQL-protocol server, when started. */
  readonly pgwire: PgServer | undefined;
  /** Closes every server (connections first). Idempotent. */
  close(): Promise<void>;
}

async function listenOrSkip(
  name: string,
  listen: () => Promise<number>,
  mode: "dev" | "start",
  logger: Logger,
): Promise<boolean> {
  try {
    await listen();
    return true;
  } catch (error) {
    // `troupe dev` turns the servers on by default: a second dev server on the same machine
    // must still start, without them.
    if (mode === "dev" && TroupeError.isInstance(error, "INVALID_ARGUMENT")) {
      logger.warn(`${name} server not started: ${error.message}`);
      return false;
    }
    throw error;
  }
}

/** Starts the protocol servers the config enables. */
export async function startProtocolServers(
  options: ProtocolServersOptions,
): Promise<ProtocolServers> {
  const { logger } = options;
  const { config, respKey } = options.plan;
  let resp: RespServer | undefined;
  if (respKey !== undefined) {
    if (options.system === undefined) {
      throw new TroupeError("UNAVAILABLE", "the RESP server needs the runtime's actor system");
    }
    const created = createRespServer({
      system: options.system,
      store: options.store,
      pubsub: options.pubsub,
      keyActor: respKey,
      ...(options.access === undefined ? {} : { access: options.access }),
      sendEvent: async (name, data) =>
        (await options.flows.send({ name, data: data as EventData })).ids,
      idleTimeoutMs: config.resp.idleTimeoutMs,
      ...(config.resp.maxBulkBytes === undefined ? {} : { maxBulkBytes: config.resp.maxBulkBytes }),
      ...(config.resp.maxConnections === undefined
        ? {}
        : { maxConnections: config.resp.maxConnections }),
      clock: options.clock,
      logger: logger.child({ component: "resp" }),
      metrics: options.metrics,
    });
    const host = config.resp.host ?? options.host;
    if (
      await listenOrSkip("RESP", () => created.listen(config.resp.port, host), options.mode, logger)
    ) {
      resp = created;
    }
  }
  let pgwire: PgServer | undefined;
  if (config.pgwire.enabled === true) {
    // Loaded only when enabled: its SQL parser takes a noticeable part of a second to load,
    // which every CLI command would otherwise pay.
    const { createPgServer } = await import("@troupe/pgwire");
    const created = createPgServer({
      flows: options.flows,
      ...(options.system === undefined ? {} : { system: options.system }),
      store: options.store,
      functions: () => listFunctions(options),
      ...(options.access === undefined ? {} : { access: options.access }),
      ...(config.pgwire.maxQueryBytes === undefined
        ? {}
        : { maxMessageBytes: config.pgwire.maxQueryBytes }),
      ...(config.pgwire.maxScanRows === undefined
        ? {}
        : { maxScanRows: config.pgwire.maxScanRows }),
      ...(config.pgwire.maxConnections === undefined
        ? {}
        : { maxConnections: config.pgwire.maxConnections }),
      idleTimeoutMs: config.pgwire.idleTimeoutMs,
      clock: options.clock,
      logger: logger.child({ component: "pgwire" }),
      metrics: options.metrics,
    });
    const host = config.pgwire.host ?? options.host;
    if (
      await listenOrSkip(
        "PostgreSQL",
        () => created.listen(config.pgwire.port, host),
        options.mode,
        logger,
      )
    ) {
      pgwire = created;
    }
  }
  return {
    resp,
    pgwire,
    async close() {
      await Promise.all([resp?.close(), pgwire?.close()]);
    },
  };
}

/** The functions the runtime runs: in-process ones and those of synced SDK apps. */
function listFunctions(options: ProtocolServersOptions): FunctionRow[] {
  const rows: FunctionRow[] = (options.functions ?? []).map((fn) => ({
    id: fn.id,
    name: fn.definition.name,
    source: "in-process",
    triggers: fn.definition.triggers,
  }));
  for (const app of options.inngest?.apps() ?? []) {
    for (const fn of app.functions) {
      rows.push({
        id: fn.id,
        name: fn.name ?? fn.id,
        source: "app",
        appName: app.appName,
        triggers: fn.triggers,
      });
    }
  }
  return rows;
}

/**
 * `troupe dev` serves the protocol servers on their default ports unless the config turns them
 * off (`enabled: false`); `troupe start` serves only what the config enables.
 */
export function enableDevProtocols<Config extends ProtocolConfig>(config: Config): Config {
  return {
    ...config,
    resp: { ...config.resp, enabled: config.resp.enabled ?? true },
    pgwire: { ...config.pgwire, enabled: config.pgwire.enabled ?? true },
  };
}
