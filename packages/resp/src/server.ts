import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { ActorSystem } from "@troupe/actors";
import {
  type Clock,
  closeListener,
  invalidArgument,
  type Logger,
  listenOn,
  type Metrics,
  noopLogger,
  type PubSub,
  parseWith,
  type Store,
  systemClock,
} from "@troupe/core";
import { z } from "zod";
import type { RespAccess } from "./access.js";
import { RespConnection } from "./connection.js";
import { RESP_KEY_TYPE, RespKey, type RespKeyActor } from "./key-actor.js";
import { PubSubHub } from "./pubsub-hub.js";
import { DEFAULT_PARSER_LIMITS } from "./resp-parser.js";
import type { RespServerContext, RespServerStats, SendEvent } from "./server-context.js";

/** Options of {@link createRespServer}. */
export interface RespServerOptions {
  /** The actor system hosting the key actor type (`RespKey` or one from `defineRespKeyActor`). */
  readonly system: ActorSystem;
  /** The Store the system saves actor state in (read by `SCAN`). */
  readonly store: Store;
  /** The key actor definition the system hosts. Default {@link RespKey}. */
  readonly keyActor?: RespKeyActor;
  /** Store key prefix of actor states, as given to the actor system. Default `actors/state/`. */
  readonly statePrefix?: string;
  /** The PubSub port for `PUBLISH`/`SUBSCRIBE`; without it those commands answer an error. */
  readonly pubsub?: PubSub;
  /** Required token (`AUTH <token>`, `HELLO 3 AUTH default <token>`); none: open. */
  readonly token?: string;
  /**
   * Scoped tokens instead of one `token`: `AUTH` is checked by `access.authenticate`, every
   * command needs its scope, mutating commands and refusals go to `access.audit`.
   */
  readonly access?: RespAccess;
  /** Sends a Troupe event for `EVENT.SEND`; without it the command answers an error. */
  readonly sendEvent?: SendEvent;
  /** Largest single argument, in bytes. Default 8 MiB. */
  readonly maxBulkBytes?: number;
  /** Most arguments per command. Default 1,048,576. */
  readonly maxArgs?: number;
  /** Most open connections; more are closed at once. Default 10,000. */
  readonly maxConnections?: number;
  /** Close connections idle this long, in ms; 0 never. Default 0 (as Redis' `timeout 0`). */
  readonly idleTimeoutMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Where `resp_*` metrics go. */
  readonly metrics?: Metrics;
}

const optionsSchema = z.object({
  statePrefix: z.string().min(1).optional(),
  token: z.string().min(1).optional(),
  maxBulkBytes: z.number().int().positive().optional(),
  maxArgs: z.number().int().positive().optional(),
  maxConnections: z.number().int().positive().optional(),
  idleTimeoutMs: z.number().int().nonnegative().optional(),
});

/** A RESP server; nothing listens until {@link RespServer.listen}. */
export interface RespServer {
  /** Listens on `port` (0: any free one) and `host`; resolves to the port. */
  listen(port: number, host?: string): Promise<number>;
  /** The port listened on (0 before `listen`). */
  port(): number;
  /** Counters for `INFO` and metrics. */
  stats(): Readonly<RespServerStats>;
  /** Stops accepting, closes every connection and the pub/sub subscription. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates a Redis-protocol server over an actor system: every key is an actor of the key type,
 * so the data lives in the system's Store and a cluster serves it from any node.
 */
export function createRespServer(options: RespServerOptions): RespServer {
  parseWith(optionsSchema, options, "createRespServer");
  const keyActor = options.keyActor ?? RespKey;
  if (!options.system.types().some((info) => info.name === RESP_KEY_TYPE)) {
    throw invalidArgument(
      "createRespServer.system",
      `the actor system must host the ${RESP_KEY_TYPE} actor type (actors: [RespKey])`,
    );
  }
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? noopLogger;
  const stats: RespServerStats = {
    connectionsTotal: 0,
    connectionsOpen: 0,
    commandsTotal: 0,
    errorsTotal: 0,
    protocolErrorsTotal: 0,
    rejectedConnections: 0,
  };
  let port = 0;
  const context: RespServerContext = {
    system: options.system,
    keyActor,
    store: options.store,
    statePrefix: `${options.statePrefix ?? "actors/state/"}${RESP_KEY_TYPE}/`,
    hub: options.pubsub ? new PubSubHub(options.pubsub, logger) : undefined,
    tokenDigest:
      options.token === undefined ? undefined : createHash("sha256").update(options.token).digest(),
    access: options.access,
    sendEvent: options.sendEvent,
    clock,
    logger,
    stats,
    meter: options.metrics && {
      connections: options.metrics.gauge("resp_connections", { help: "Open RESP connections" }),
      commands: options.metrics.counter("resp_commands_total", { help: "RESP commands received" }),
      errors: options.metrics.counter("resp_errors_total", { help: "RESP error replies sent" }),
    },
    startedAt: clock.now(),
    nodeId: options.system.nodeId,
    port: () => port,
    cursors: new Map(),
    nextCursor: 0,
  };
  const limits = {
    ...DEFAULT_PARSER_LIMITS,
    ...(options.maxBulkBytes === undefined ? {} : { maxBulkBytes: options.maxBulkBytes }),
    ...(options.maxArgs === undefined ? {} : { maxArgs: options.maxArgs }),
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
    maxPendingReplies: 1024,
  };
  const maxConnections = options.maxConnections ?? 10_000;
  const connections = new Set<RespConnection>();
  let nextId = 0;

  const server: Server = createServer((socket: Socket) => {
    stats.connectionsTotal++;
    if (connections.size >= maxConnections) {
      stats.rejectedConnections++;
      socket.end("-ERR max number of clients reached\r\n");
      return;
    }
    stats.connectionsOpen++;
    context.meter?.connections.set(stats.connectionsOpen);
    const connection = new RespConnection(context, socket, limits, ++nextId);
    connections.add(connection);
    socket.on("close", () => connections.delete(connection));
  });
  let closing: Promise<void> | undefined;

  return {
    async listen(requested, host = "127.0.0.1") {
      port = await listenOn(server, requested, host, "resp.port");
      logger.info("resp server listening", { host, port });
      return port;
    },
    port: () => port,
    stats: () => ({ ...stats }),
    close() {
      closing ??= (async () => {
        await closeListener(server, connections);
        await context.hub?.close();
      })();
      return closing;
    },
  };
}
