import { createStreams, implicitSubscriptionsOf, type Streams } from "@troupe/actor-streams";
import {
  type ActorSystem,
  type ActorTypeInfo,
  type AnyActorDefinition,
  type ClusterNode,
  createActorSystem,
  createClusterNode,
  createDnsDiscovery,
  DNS_RECORD_TYPES,
  isActorDefinition,
  placements,
} from "@troupe/actors";
import {
  type Clock,
  fromUtf8,
  invalidArgument,
  jsonCodec,
  type Logger,
  type Metrics,
  type PubSub,
  parseWith,
  type Queue,
  type Store,
  type Transport,
  TroupeError,
  utf8,
} from "@troupe/core";
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { loadAdapter } from "./adapter-loader.js";
import type { DashboardActorsOverview } from "./api/wire-types.js";

const PLACEMENTS = ["random", "prefer-local", "consistent-hash"] as const;

/** Cluster mode of the runtime's actor system: nodes share the Store and talk over NATS. */
export interface RuntimeActorsClusterOptions {
  /** The NATS server(s) calls between nodes travel through, e.g. `nats://127.0.0.1:4222`. */
  readonly transportUrl: string;
  /** First tokens of the NATS subjects, to keep deployments apart on one server. Default `troupe`. */
  readonly subjectPrefix?: string | undefined;
  /** Node lease length in ms (how long a dead node's actors stay unreachable). Default 10,000. */
  readonly leaseMs?: number | undefined;
  /** Where unowned actors go. Default `random`. */
  readonly placement?: (typeof PLACEMENTS)[number] | undefined;
  /** Bound on clock differences between nodes, in ms. Default 0. */
  readonly maxClockSkewMs?: number | undefined;
  /**
   * Keep the cluster's records (node leases, the directory of claims) on etcd, e.g.
   * `etcd://10.0.0.1:2379,10.0.0.2:2379`, while actor states stay in the runtime's Store; state
   * writes are then fenced by token. Default: everything in the runtime's Store.
   */
  readonly directoryUrl?: string | undefined;
  /** Key prefix of the cluster's records on etcd. Default `troupe/`. */
  readonly directoryPrefix?: string | undefined;
  /**
   * This node's address as the platform lists it (its pod IP, `host:port` or a URL), published
   * in its node record; discovery matches it. Default: none.
   */
  readonly address?: string | undefined;
  /**
   * DNS peer discovery: new actors go only to live nodes whose `address` the DNS name lists
   * (e.g. a Kubernetes headless Service); every live node when DNS lists none or fails.
   */
  readonly discovery?: RuntimeDnsDiscoveryOptions | undefined;
}

/** `actors.cluster.discovery`: where the cluster's nodes are listed in DNS. */
export interface RuntimeDnsDiscoveryOptions {
  /** The name to resolve, e.g. `troupe-peers.default.svc.cluster.local`. */
  readonly dns: string;
  /** `A`, `AAAA`, `A+AAAA` (default) or `SRV`. */
  readonly recordType?: (typeof DNS_RECORD_TYPES)[number] | undefined;
  /** DNS servers (`ip` or `ip:port`). Default: the system's. */
  readonly servers?: readonly string[] | undefined;
  /** How long a listing is reused, in ms. Default 5,000. */
  readonly refreshMs?: number | undefined;
}

/** The `actors` option of the runtime (config file or `createRuntime` options). */
export interface RuntimeActorsOptions {
  /** The actor types this runtime hosts (from `defineActor`). */
  readonly definitions: readonly AnyActorDefinition[];
  /** This node's id. Default: a fresh ULID (single node); required in cluster mode. */
  readonly nodeId?: string | undefined;
  /**
   * Name of the queue holding reminders. Default `<storage.queueName>.actors`: a queue of its
   * own, because the flows worker claims every item of its queue.
   */
  readonly queueName?: string | undefined;
  /** How long shutdown waits for turns in flight, in ms. Default the runtime's `shutdownTimeoutMs`. */
  readonly drainTimeoutMs?: number | undefined;
  /** How often the reminder queue is polled when idle, in ms. Default 5,000. */
  readonly reminderPollMs?: number | undefined;
  /** Cluster mode; without it the system runs on this node alone. */
  readonly cluster?: RuntimeActorsClusterOptions | undefined;
}

const positiveInt = z.number({ error: "expected a number" }).int("expected an integer").positive();

/** Validates the `actors` option (config file or `createRuntime`); errors name the field. */
export const runtimeActorsSchema = z
  .strictObject({
    definitions: z.array(
      z.custom<AnyActorDefinition>(isActorDefinition, "expected a definition from defineActor"),
      { error: "expected an array of actor definitions (defineActor)" },
    ),
    nodeId: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,128}$/, "expected 1-128 letters, digits or ._-")
      .optional(),
    queueName: z.string().min(1, "expected a non-empty queue name").optional(),
    drainTimeoutMs: positiveInt.optional(),
    reminderPollMs: positiveInt.optional(),
    cluster: z
      .strictObject({
        transportUrl: z
          .string()
          .regex(/^(nats|tls|wss?):\/\/\S+$/, "expected a NATS URL like nats://127.0.0.1:4222"),
        subjectPrefix: z.string().min(1).optional(),
        leaseMs: positiveInt.optional(),
        placement: z
          .enum(PLACEMENTS, { error: `expected one of ${PLACEMENTS.join(", ")}` })
          .optional(),
        maxClockSkewMs: z.number().int().nonnegative().optional(),
        directoryUrl: z
          .string()
          .regex(/^etcd:\/\/\S+$/, "expected an etcd URL like etcd://127.0.0.1:2379")
          .optional(),
        directoryPrefix: z.string().min(1).max(256).optional(),
        address: z
          .string()
          .min(1, "expected an address like 10.0.0.7 or pod-a.svc:8288")
          .optional(),
        discovery: z
          .strictObject({
            dns: z
              .string()
              .regex(
                /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}$/,
                "expected a DNS name like troupe-peers.default.svc.cluster.local",
              ),
            recordType: z
              .enum(DNS_RECORD_TYPES, { error: `expected one of ${DNS_RECORD_TYPES.join(", ")}` })
              .optional(),
            servers: z
              .array(
                z
                  .string()
                  .regex(/^[0-9A-Fa-f.:[\]]+$/, "expected an IP address, optionally with :port"),
              )
              .min(1, "expected at least one server")
              .optional(),
            refreshMs: z.number().int().nonnegative().optional(),
          })
          .optional(),
      })
      .optional(),
  })
  .superRefine((value, context) => {
    if (value.cluster !== undefined && value.nodeId === undefined) {
      context.addIssue({
        code: "custom",
        path: ["nodeId"],
        message: "required in cluster mode (a stable id per node, e.g. the host name)",
      });
    }
  });

/** Validates `input` as {@link RuntimeActorsOptions}; a bad value names `<field>.<path>`. */
export function parseRuntimeActors(input: unknown, field = "actors"): RuntimeActorsOptions {
  return parseWith(runtimeActorsSchema, input, field, { unknownKey: "unknown option" });
}

/** The actor system a runtime hosts, with its cluster parts. */
export interface RuntimeActors {
  /** The actor system. */
  readonly system: ActorSystem;
  /** The cluster node, in cluster mode. */
  readonly node: ClusterNode | undefined;
  /** Streams on the runtime's Store and PubSub, delivering to this system's actors (with a PubSub). */
  readonly streams: Streams | undefined;
  /** Drains turns in flight, saves and releases every actor, leaves the cluster. Idempotent. */
  close(): Promise<void>;
}

/** What {@link startRuntimeActors} runs on. */
export interface StartRuntimeActorsOptions {
  /** The validated option. */
  readonly actors: RuntimeActorsOptions;
  /** The runtime's Store (state, claims, cluster records). */
  readonly store: Store;
  /** The queue reminders live in. */
  readonly queue: Queue;
  /** The PubSub stream events are announced on; without it there are no streams. */
  readonly pubsub?: PubSub;
  /** Time source. */
  readonly clock: Clock;
  /** Where the system logs. */
  readonly logger: Logger;
  /** Where its metrics go. */
  readonly metrics?: Metrics;
  /** Drain limit when the option sets none. */
  readonly drainTimeoutMs: number;
  /** Builds the cluster Transport (tests); default NATS on `cluster.transportUrl` (`@troupe/nats`, loaded then). */
  readonly transport?: (cluster: RuntimeActorsClusterOptions, logger: Logger) => Transport;
}

/**
 * Creates the actor system on the runtime's Store and Queue; in cluster mode it also connects
 * the Transport, wires a cluster node and joins the cluster once the system serves calls.
 */
export async function startRuntimeActors(
  options: StartRuntimeActorsOptions,
): Promise<RuntimeActors> {
  const { actors, store, queue, clock, logger } = options;
  const common = {
    store,
    queue,
    clock,
    logger,
    actors: actors.definitions,
    drainTimeoutMs: actors.drainTimeoutMs ?? Math.max(1, options.drainTimeoutMs),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    ...(actors.reminderPollMs === undefined ? {} : { reminderPollMs: actors.reminderPollMs }),
  };
  const cluster = actors.cluster;
  if (cluster === undefined) {
    const system = createActorSystem({
      ...common,
      ...(actors.nodeId === undefined ? {} : { nodeId: actors.nodeId }),
    });
    const streams = streamsFor(options, system);
    return {
      system,
      node: undefined,
      streams,
      close: async () => {
        await streams?.close();
        await system.close();
      },
    };
  }
  const nodeId = actors.nodeId;
  if (nodeId === undefined) throw invalidArgument("actors.nodeId", "required in cluster mode");
  const transport =
    options.transport?.(cluster, logger) ??
    (await loadAdapter("@troupe/nats", "a NATS transport (actors.cluster)")).createNatsTransport({
      servers: cluster.transportUrl,
      connectionName: `troupe-actors-${nodeId}`,
      logger,
      ...(cluster.subjectPrefix === undefined ? {} : { subjectPrefix: cluster.subjectPrefix }),
    });
  const directoryStore =
    cluster.directoryUrl === undefined
      ? undefined
      : (
          await loadAdapter("@troupe/etcd", "an etcd directory (actors.cluster.directoryUrl)")
        ).createEtcdStore({
          url: cluster.directoryUrl,
          prefix: cluster.directoryPrefix ?? "troupe/",
        });
  const discovery =
    cluster.discovery === undefined
      ? undefined
      : createDnsDiscovery({
          name: cluster.discovery.dns,
          clock,
          logger,
          ...(cluster.discovery.recordType === undefined
            ? {}
            : { recordType: cluster.discovery.recordType }),
          ...(cluster.discovery.servers === undefined
            ? {}
            : { servers: cluster.discovery.servers }),
          ...(cluster.discovery.refreshMs === undefined
            ? {}
            : { refreshMs: cluster.discovery.refreshMs }),
        });
  const node = createClusterNode({
    store: directoryStore ?? store,
    stateStore: store,
    transport,
    nodeId,
    clock,
    logger,
    capabilities: actors.definitions,
    ...(cluster.leaseMs === undefined ? {} : { leaseMs: cluster.leaseMs }),
    ...(cluster.maxClockSkewMs === undefined ? {} : { maxClockSkewMs: cluster.maxClockSkewMs }),
    placement: placementOf(cluster.placement ?? "random"),
    ...(cluster.address === undefined ? {} : { address: cluster.address }),
    ...(discovery === undefined ? {} : { discovery }),
  });
  const system = createActorSystem({
    ...common,
    nodeId,
    directory: node.directory,
    remoting: node.remoting,
  });
  const streams = streamsFor(options, system);
  const close = async () => {
    try {
      await streams?.close();
      await system.close();
      await node.close();
    } finally {
      await transport.close();
      await directoryStore?.close();
    }
  };
  try {
    await node.join();
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    system,
    node,
    streams,
    close: () => {
      closing ??= close();
      return closing;
    },
  };
}

/** Streams for the runtime's actors; implicit subscriptions come from the hosted types. */
function streamsFor(options: StartRuntimeActorsOptions, system: ActorSystem): Streams | undefined {
  if (options.pubsub === undefined) return undefined;
  return createStreams({
    store: options.store,
    pubsub: options.pubsub,
    system,
    implicit: implicitSubscriptionsOf(options.actors.definitions),
    clock: options.clock,
    logger: options.logger.child({ component: "streams" }),
    ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
  });
}

function placementOf(name: (typeof PLACEMENTS)[number]) {
  if (name === "prefer-local") return placements.preferLocal();
  if (name === "consistent-hash") return placements.consistentHash();
  return placements.random();
}

// ------------------------------------------------------------------------------------- routes

const bodySchema = z.strictObject(
  { args: z.array(z.unknown(), { error: "expected an array of arguments" }).default([]) },
  { error: 'expected a JSON object like {"args": [...]}' },
);

const STATUS: Readonly<Record<string, ContentfulStatusCode>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  MAILBOX_FULL: 429,
  TIMEOUT: 504,
  // A remote node died with the call in flight: it may or may not have run (the caller decides).
  OUTCOME_UNKNOWN: 504,
  CLOSED: 503,
  UNAVAILABLE: 503,
  LEASE_LOST: 503,
};

/** The HTTP status an actor call's error answers with. */
export function actorErrorStatus(error: unknown): ContentfulStatusCode {
  return (TroupeError.isInstance(error) ? STATUS[error.code] : undefined) ?? 500;
}

function json(status: ContentfulStatusCode, value: unknown, headers: Record<string, string> = {}) {
  // The codec, so bigint, Date and bytes in results and state survive (tagged like `{"$bigint":"1"}`).
  return new Response(fromUtf8(jsonCodec.encode(value)), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

function errorResponse(status: ContentfulStatusCode, code: string, message: string): Response {
  return json(
    status,
    { status, error: { code, message } },
    status === 429 ? { "retry-after": "1" } : {},
  );
}

/** Turns a URL key segment into the key the type expects; `_` (or empty) for key-less types. */
export function keyFromPath(type: ActorTypeInfo, raw: string): unknown {
  if (type.keyKind === "none") {
    if (raw === "_" || raw === "") return undefined;
    throw invalidArgument(
      "key",
      `${type.name} takes no key; use "_" in the path, got ${JSON.stringify(raw)}`,
    );
  }
  if (type.keyKind === "integer") {
    if (!/^-?\d+$/.test(raw)) {
      throw invalidArgument(
        "key",
        `${type.name} is keyed by an integer, got ${JSON.stringify(raw)}`,
      );
    }
    return Number(raw);
  }
  return raw;
}

/**
 * The actors REST API, mounted by the runtime under `/actors` (and `/api/actors` for the
 * dashboard): `GET /` lists types and this node's activations, `GET /:type/:key` reads the state,
 * `POST /:type/:key/:action` calls an action with `{"args": [...]}` (`?oneWay=1`: a one-way send).
 * `system()` is undefined until the runtime has started.
 */
export function createActorsRoutes(options: {
  readonly system: () => ActorSystem | undefined;
  readonly logger: Logger;
}): Hono {
  const app = new Hono();
  const running = (): ActorSystem => {
    const system = options.system();
    if (system === undefined) {
      throw new TroupeError(
        "UNAVAILABLE",
        "the actor system starts with the runtime (runtime.start())",
      );
    }
    return system;
  };
  const typeOf = (system: ActorSystem, name: string): ActorTypeInfo => {
    const type = system.types().find((candidate) => candidate.name === name);
    if (type === undefined) {
      const known = system.types().map((candidate) => candidate.name);
      throw new TroupeError(
        "NOT_FOUND",
        `no actor type ${JSON.stringify(name)} (types: ${known.length > 0 ? known.join(", ") : "none"})`,
      );
    }
    return type;
  };

  app.get("/", (context) => {
    const system = running();
    const types = system.types();
    const activations = system.listActivations();
    const overview: DashboardActorsOverview = {
      nodeId: system.nodeId,
      types: types.map((type) => ({
        ...type,
        active: activations.filter((activation) => activation.type === type.name).length,
      })),
      activations,
    };
    return context.json(overview);
  });

  app.get("/:type/:key", async (context) => {
    const system = running();
    const type = typeOf(system, context.req.param("type"));
    const key = keyFromPath(type, context.req.param("key"));
    return json(200, await system.inspectState(type.name, key));
  });

  app.post("/:type/:key/:action", async (context) => {
    const system = running();
    const type = typeOf(system, context.req.param("type"));
    const action = context.req.param("action");
    if (!type.actions.some((candidate) => candidate.name === action)) {
      throw new TroupeError(
        "NOT_FOUND",
        `${type.name} has no action ${JSON.stringify(action)} (actions: ${type.actions.map((candidate) => candidate.name).join(", ")})`,
      );
    }
    const key = keyFromPath(type, context.req.param("key"));
    const text = await context.req.text();
    let body: unknown = {};
    if (text.trim() !== "") {
      try {
        body = jsonCodec.decode(utf8(text));
      } catch {
        throw invalidArgument("body", "is not valid JSON");
      }
    }
    // Fields are named as the caller wrote them (`args`), the body as a whole as `body`.
    const { args } = parseWith(bodySchema, body, "", {
      unknownKey: "unknown field",
      wholeValueField: "body",
    });
    const oneWay = context.req.query("oneWay");
    if (oneWay === "1" || oneWay === "true") {
      system.send(type.name, key, action, args);
      return json(202, { accepted: true });
    }
    const result = await system.invoke(type.name, key, action, args);
    return json(200, { result: result === undefined ? null : result });
  });

  // Inside the prefix, a wrong shape (e.g. `/actors/Clock//tick`) gets a JSON answer that says
  // which routes exist, not the server's plain-text 404.
  app.all("*", (context) => {
    throw new TroupeError(
      "NOT_FOUND",
      `no actors route ${context.req.method} ${context.req.path}: use POST …/:type/:key/:action (key "_" for key-less types), GET …/:type/:key or GET the list`,
    );
  });

  app.onError((error, context) => {
    const status = actorErrorStatus(error);
    if (TroupeError.isInstance(error)) {
      if (status === 500) {
        options.logger.warn("actor call failed", { path: context.req.path, error });
      }
      return errorResponse(status, error.code, error.message);
    }
    // An error thrown by the actor's own code: its message is the actor's answer.
    options.logger.warn("actor call failed", { path: context.req.path, error });
    return errorResponse(
      500,
      "ACTOR_ERROR",
      error instanceof Error ? error.message : String(error),
    );
  });
  return app;
}
