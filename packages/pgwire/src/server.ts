import { createServer, type Server, type Socket } from "node:net";
import type { ActorSystem } from "@troupe/actors";
import {
  type Clock,
  closeListener,
  type Logger,
  listenOn,
  type Metrics,
  noopLogger,
  parseWith,
  type Store,
  systemClock,
} from "@troupe/core";
import type { Flows } from "@troupe/flows";
import { z } from "zod";
import type { PgAccess } from "./access.js";
import { PgConnection, type PgServerContext, type PgServerStats } from "./connection.js";
import { PgError, SQLSTATE } from "./pg-error.js";
import { MessageWriter } from "./pg-messages.js";
import { scramVerifier } from "./scram.js";
import type { FunctionRow } from "./virtual-tables.js";

/** Options of {@link createPgServer}. */
export interface PgServerOptions {
  /** Runs, steps, events; `INSERT INTO events`. */
  readonly flows?: Flows;
  /** Actors and `troupe.call_actor`. */
  readonly system?: ActorSystem;
  /** The Store with actor states and stats snapshots. */
  readonly store?: Store;
  /** Store key prefix of actor states. Default `actors/state/`. */
  readonly actorStatePrefix?: string;
  /** Store key prefix of stats snapshots. Default `stats/snapshot/`. */
  readonly statsSnapshotPrefix?: string;
  /** The registered functions, for the `functions` table. */
  readonly functions?: () => readonly FunctionRow[];
  /** The password clients must give (SCRAM-SHA-256); none: no password asked. */
  readonly token?: string;
  /**
   * Scoped tokens instead of one `token`: the password (asked in clear text) is checked by
   * `access.authenticate`, each statement needs its scope, mutating statements and refusals go
   * to `access.audit`.
   */
  readonly access?: PgAccess;
  /** Largest message (a query with its parameters), in bytes. Default 1 MiB. */
  readonly maxMessageBytes?: number;
  /** Most rows one table scan reads. Default 10,000. */
  readonly maxScanRows?: number;
  /** Most open connections. Default 1,000. */
  readonly maxConnections?: number;
  /** Close connections idle this long, in ms; 0 never. Default 0. */
  readonly idleTimeoutMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Where `pgwire_*` metrics go. */
  readonly metrics?: Metrics;
}

const optionsSchema = z.object({
  token: z.string().min(1).optional(),
  maxMessageBytes: z.number().int().min(1024).optional(),
  maxScanRows: z.number().int().positive().optional(),
  maxConnections: z.number().int().positive().optional(),
  idleTimeoutMs: z.number().int().nonnegative().optional(),
});

/** A PostgreSQL wire-protocol server; nothing listens until {@link PgServer.listen}. */
export interface PgServer {
  /** Listens on `port` (0: any free one) and `host`; resolves to the port. */
  listen(port: number, host?: string): Promise<number>;
  /** The port listened on (0 before `listen`). */
  port(): number;
  /** Counters. */
  stats(): Readonly<PgServerStats>;
  /** Stops accepting and closes every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates a PostgreSQL wire-protocol (3.0) server over Troupe's public APIs: read-only virtual
 * tables, `INSERT INTO events`, `troupe.call_actor(...)`, and the catalog answers psql needs.
 */
export function createPgServer(options: PgServerOptions): PgServer {
  parseWith(optionsSchema, options, "createPgServer");
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const stats: PgServerStats = {
    connectionsTotal: 0,
    connectionsOpen: 0,
    queriesTotal: 0,
    errorsTotal: 0,
    protocolErrorsTotal: 0,
    cancelsTotal: 0,
  };
  const parameters = new Map([
    ["server_version", "15.0"],
    ["server_encoding", "UTF8"],
    ["client_encoding", "UTF8"],
    ["DateStyle", "ISO, MDY"],
    ["TimeZone", "UTC"],
    ["integer_datetimes", "on"],
    ["standard_conforming_strings", "on"],
    ["application_name", ""],
    ["is_superuser", "off"],
  ]);
  const context: PgServerContext = {
    engine: {
      flows: options.flows,
      system: options.system,
      store: options.store,
      actorStatePrefix: options.actorStatePrefix,
      statsSnapshotPrefix: options.statsSnapshotPrefix,
      functions: options.functions,
      maxScanRows: options.maxScanRows,
      now: () => clock.now(),
      settings: new Map([...parameters].map(([name, value]) => [name.toLowerCase(), value])),
    },
    verifier: options.token === undefined ? undefined : scramVerifier(options.token),
    access: options.access,
    maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
    logger,
    stats,
    meter: options.metrics && {
      connections: options.metrics.gauge("pgwire_connections", {
        help: "Open PostgreSQL-protocol connections",
      }),
      queries: options.metrics.counter("pgwire_queries_total", {
        help: "Statements run over the PostgreSQL protocol",
      }),
      errors: options.metrics.counter("pgwire_errors_total", {
        help: "Error responses sent over the PostgreSQL protocol",
      }),
    },
    byProcessId: new Map(),
    parameters,
  };
  const maxConnections = options.maxConnections ?? 1000;
  const connections = new Set<PgConnection>();
  const server: Server = createServer((socket: Socket) => {
    stats.connectionsTotal++;
    if (connections.size >= maxConnections) {
      const out = new MessageWriter();
      out.error(
        new PgError(SQLSTATE.tooManyConnections, "sorry, too many clients already", "FATAL"),
      );
      socket.end(out.take());
      return;
    }
    stats.connectionsOpen++;
    context.meter?.connections.set(stats.connectionsOpen);
    const connection = new PgConnection(context, socket);
    connections.add(connection);
    socket.on("close", () => connections.delete(connection));
  });
  let port = 0;
  let closing: Promise<void> | undefined;
  return {
    async listen(requested, host = "127.0.0.1") {
      port = await listenOn(server, requested, host, "pgwire.port");
      logger.info("pgwire server listening", { host, port });
      return port;
    },
    port: () => port,
    stats: () => ({ ...stats }),
    close() {
      closing ??= closeListener(server, connections);
      return closing;
    },
  };
}
