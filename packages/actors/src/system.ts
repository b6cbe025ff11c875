import {
  type Clock,
  invalidArgument,
  jsonCodec,
  type Logger,
  type Metrics,
  noopLogger,
  noopMetrics,
  parseWith,
  type Queue,
  type Store,
  systemClock,
  TroupeError,
  ulid,
} from "@troupe/core";
import { z } from "zod";
import { Activation } from "./activation.js";
import type { ActivationDeps } from "./activation-deps.js";
import { type ActivationInfo, ActivationTable } from "./activation-table.js";
import {
  type ActorRef,
  type ActorRefJson,
  type AnyActorDefinition,
  compiledOf,
  type KeyArgs,
  type UntypedActorRef,
} from "./define.js";
import type {
  ActorAddress,
  ActorDirectory,
  ActorRemoting,
  RemoteCall,
  RemoteReply,
} from "./directory.js";
import { Deadlines } from "./envelope.js";
import { errorMessage } from "./errors.js";
import { IncomingCalls } from "./incoming-calls.js";
import { ACTIVE } from "./lifecycle.js";
import { createLocalDirectory } from "./local-directory.js";
import { EMPTY_CHAIN, References } from "./refs.js";
import { type ActorTypeInfo, ActorTypes } from "./registry.js";
import { Reminders } from "./reminders.js";
import { RemoteCaller } from "./remote-calls.js";
import { Router } from "./router.js";
import { type ShutdownParts, shutDown } from "./shutdown.js";
import { StateStore } from "./state-store.js";
import { type ContextExtension, ensureExtensionSlot } from "./turn-context.js";

export type { ActivationInfo } from "./activation-table.js";
export type { ActorTypeInfo } from "./registry.js";
export { REMINDER_PARTITION } from "./reminders.js";

/** What `createActorSystem` takes. */
export interface ActorSystemOptions {
  /** Where state (and, with the local directory, claims) is kept. */
  readonly store: Store;
  /** Where durable reminders are kept (in the partition `REMINDER_PARTITION`; other work is left alone). */
  readonly queue: Queue;
  /** The actor types this system hosts. */
  readonly actors: readonly AnyActorDefinition[];
  /** Time source (a ManualClock in tests). Default: the system clock. */
  readonly clock?: Clock;
  /** This node's id. Default: a fresh ULID. */
  readonly nodeId?: string;
  /**
   * Where activations live. Default: the single-node directory on `store`. The system closes it
   * on `close()`.
   */
  readonly directory?: ActorDirectory;
  /**
   * How calls reach actors owned by other nodes (cluster mode). The system calls `listen` with
   * its `handleRemoteCall` at start and closes it on `close()`.
   */
  readonly remoting?: ActorRemoting;
  /** Logger. Default: silent. */
  readonly logger?: Logger;
  /** Metrics. Default: none. */
  readonly metrics?: Metrics;
  /** Key prefix of state entries. Default `"actors/state/"`. */
  readonly statePrefix?: string;
  /** How often the reminder queue is polled when nothing is known to be due. Default 5 s. */
  readonly reminderPollMs?: number;
  /** How long a reminder firing holds its queue lease. Default 60 s. */
  readonly reminderLeaseMs?: number;
  /** How often idle activations are looked for. Default: a quarter of the shortest idle timeout (1 ms – 60 s). */
  readonly idleSweepMs?: number;
  /**
   * How long `close()` waits for turns to finish and actors to deactivate before it drops the
   * rest without saving (a handler that never settles must not hang shutdown). Default 30 s.
   */
  readonly drainTimeoutMs?: number;
  /**
   * Random numbers in [0, 1), for the jitter of re-routes after a node died under a call (a
   * seeded source makes tests repeatable). Default `Math.random`.
   */
  readonly random?: () => number;
}

/** An actor's state as {@link ActorSystem.inspectState} reads it. */
export interface ActorStateView {
  /** The actor type. */
  readonly type: string;
  /** The address key. */
  readonly key: string;
  /** Whether the actor is activated on this node. */
  readonly active: boolean;
  /** Whether a state is stored (false for an actor never written). */
  readonly stored: boolean;
  /** The last stored state (undefined when none). */
  readonly state: unknown;
  /**
   * A copy of the in-memory state when the actor is active here: newer than `state` in
   * `"explicit"` save mode, or while a turn runs (it may show a turn's unfinished changes).
   */
  readonly live?: unknown;
}

/** An actor system: typed references, remote-call handling, and graceful shutdown. */
export interface ActorSystem {
  /** This node's id. */
  readonly nodeId: string;
  /** A typed reference to the actor of `definition` with `key` (no key for unkeyed actors). */
  get<D extends AnyActorDefinition>(definition: D, ...key: KeyArgs<D>): ActorRef<D>;
  /** Revives a serialised reference (`ref.toJSON()`); validates type and key. */
  ref(json: ActorRefJson): UntypedActorRef;
  /**
   * Calls an action by name with untrusted arguments (validated with the action's `args` schema
   * when it has one), as the REST API does.
   */
  invoke(type: string, key: unknown, action: string, args: readonly unknown[]): Promise<unknown>;
  /**
   * A one-way send by name with untrusted arguments, checked like {@link ActorSystem.invoke}
   * (bad type, key, action or arguments throw at once); failures of the call itself are logged.
   */
  send(type: string, key: unknown, action: string, args: readonly unknown[]): void;
  /** The actor types this system hosts, in registration order. */
  types(): ActorTypeInfo[];
  /** The activations in this node's memory (introspection; a snapshot). */
  listActivations(): ActivationInfo[];
  /**
   * Reads an actor's stored state, and its in-memory state when it is active here, without
   * activating it. Unknown type or bad key: INVALID_ARGUMENT.
   */
  inspectState(type: string, key: unknown): Promise<ActorStateView>;
  /**
   * Runs a call that arrived from another node, on this node. Answers `moved` when another live
   * node holds the actor's claim. Used by `ActorRemoting` implementations.
   */
  handleRemoteCall(call: RemoteCall): Promise<RemoteReply>;
  /** How many activations are in memory. */
  activationCount(): number;
  /**
   * Adds the method `name` to the context of every turn on this system: `ctx.<name>(...args)`
   * calls `method(ctx, ...args)`. For packages that extend actors (`@troupe/actor-tx` adds
   * `ctx.transaction`); they declare its type by augmenting `ActorContextExtensions`. A second
   * call with the same name replaces the method. INVALID_ARGUMENT for a name the context
   * already has (`state`, `get`, …).
   */
  extendContext(name: string, method: ContextExtension): void;
  /** Whether the actor is activated on this node. */
  isActive(address: ActorAddress): boolean;
  /**
   * Shuts down gracefully: rejects new calls from outside (code CLOSED), stops reminder polling,
   * lets running and waiting turns finish, deactivates every actor (saving and releasing its
   * claim), then closes the directory and remoting. Idempotent. Does not close the Store or Queue.
   */
  close(): Promise<void>;
}

const optionsSchema = z.object({
  store: z.custom<Store>(
    (value) => typeof value === "object" && value !== null,
    "expected a Store",
  ),
  queue: z.custom<Queue>(
    (value) => typeof value === "object" && value !== null,
    "expected a Queue",
  ),
  actors: z.array(z.unknown()),
  nodeId: z.string().min(1).max(200).optional(),
  reminderPollMs: z.number().int().positive().optional(),
  reminderLeaseMs: z.number().int().positive().optional(),
  idleSweepMs: z.number().int().positive().optional(),
  drainTimeoutMs: z.number().int().positive().optional(),
  statePrefix: z.string().min(1).optional(),
  random: z
    .custom<() => number>((value) => typeof value === "function", "expected a function")
    .optional(),
});

/**
 * The composition root: builds the parts (types, references, router, activations, reminders,
 * remote calls) with explicit collaborators and answers the public API by delegating to them.
 */
class System implements ActorSystem {
  readonly nodeId: string;
  private readonly actorTypes: ActorTypes;
  private readonly refs: References;
  private readonly router: Router;
  private readonly table: ActivationTable;
  private readonly states: StateStore;
  private readonly incoming: IncomingCalls;
  private readonly closeParts: ShutdownParts;
  private closed: Promise<void> | undefined = undefined;
  private readonly extensions = new Map<string, ContextExtension>();

  constructor(options: ActorSystemOptions) {
    parseWith(optionsSchema, options, "createActorSystem");
    const clock: Clock = options.clock ?? systemClock;
    const deadlines = new Deadlines(clock);
    this.nodeId = options.directory?.nodeId ?? options.nodeId ?? ulid();
    const nodeId = this.nodeId;
    const directory: ActorDirectory =
      options.directory ?? createLocalDirectory({ store: options.store, nodeId, clock });
    const remoting = options.remoting;
    const logger = (options.logger ?? noopLogger).child({ component: "actors", nodeId });
    const metrics = options.metrics ?? noopMetrics;
    this.actorTypes = new ActorTypes(options.actors);
    const shortestIdle = this.actorTypes.shortestIdleMs;
    const idleSweepMs =
      options.idleSweepMs ??
      (Number.isFinite(shortestIdle)
        ? Math.min(60_000, Math.max(1, Math.floor(shortestIdle / 4)))
        : 60_000);
    this.states = new StateStore(
      options.store,
      directory,
      options.statePrefix ?? "actors/state/",
      metrics.counter("actors_state_writes_total", { help: "State writes" }),
    );
    // Activations are made by the table but need the router and the turn services, which are
    // built below: the factory reads `deps` only when the first activation is made.
    this.table = new ActivationTable({
      clock,
      metrics,
      idleSweepMs,
      create: (target) => new Activation(deps, target),
    });
    this.router = new Router({
      nodeId,
      clock,
      deadlines,
      logger,
      table: this.table,
      directory,
      remote: remoting === undefined ? undefined : new RemoteCaller(remoting, directory, clock),
      random: options.random ?? Math.random,
    });
    this.refs = new References(this.actorTypes, this.router);
    const reminders = new Reminders({
      queue: options.queue,
      clock,
      logger,
      metrics,
      pollMs: options.reminderPollMs ?? 5000,
      leaseMs: options.reminderLeaseMs ?? 60_000,
      types: this.actorTypes,
      refs: this.refs,
      calls: this.router,
    });
    let turnSeq = 0;
    const deps: ActivationDeps = {
      clock,
      deadlines,
      logger,
      directory,
      states: this.states,
      table: this.table,
      router: this.router,
      services: {
        nextTurnId: () => `${nodeId}:${(++turnSeq).toString(36)}`,
        refs: this.refs,
        reminders,
        extensions: this.extensions,
      },
    };
    this.incoming = new IncomingCalls(this.actorTypes, this.router, clock, logger);
    if (remoting !== undefined) {
      void remoting
        .listen((call) => this.incoming.handle(call))
        .catch((error: unknown) => {
          logger.error("actor remoting failed to listen", { error: errorMessage(error) });
        });
    }
    const unsubscribeLost = directory.onOwnershipLost?.((addresses) => {
      for (const address of addresses) {
        const act = this.table.byId.get(`${address.type}/${address.key}`);
        act?.drop(
          new TroupeError(
            "LEASE_LOST",
            `actor ${address.type}/${address.key}: this node lost its claim (its lease lapsed); the activation was dropped without saving`,
            { details: { address } },
          ),
        );
      }
    });
    this.closeParts = {
      clock,
      logger,
      drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
      router: this.router,
      table: this.table,
      reminders,
      directory,
      remoting,
      unsubscribeLost,
    };
    reminders.start();
  }

  // --- references ---------------------------------------------------------------------------

  get<D extends AnyActorDefinition>(definition: D, ...key: KeyArgs<D>): ActorRef<D> {
    return this.refs.typed(definition, key[0], EMPTY_CHAIN) as ActorRef<D>;
  }

  ref(json: ActorRefJson): UntypedActorRef {
    return this.refs.revive(json, EMPTY_CHAIN);
  }

  // --- calls by name ------------------------------------------------------------------------

  async invoke(
    type: string,
    key: unknown,
    action: string,
    args: readonly unknown[],
  ): Promise<unknown> {
    const { ref, compiled, checked } = this.byNameCall(type, key, action, args);
    return this.router.request(ref, compiled, checked);
  }

  send(type: string, key: unknown, action: string, args: readonly unknown[]): void {
    const { ref, compiled, checked } = this.byNameCall(type, key, action, args);
    this.router.tell(ref, compiled, checked);
  }

  /** Resolves and checks a call by name (shared by invoke and send). */
  private byNameCall(type: string, key: unknown, action: string, args: readonly unknown[]) {
    const definition = this.actorTypes.named(type);
    const compiled = this.actorTypes.action(definition, action);
    if (!Array.isArray(args)) throw invalidArgument("args", "expected an array of arguments");
    const checked = this.actorTypes.checkArgs(definition, compiled, args);
    const ref = this.refs.of(this.actorTypes.target(definition, key), EMPTY_CHAIN);
    return { ref, compiled, checked };
  }

  handleRemoteCall(call: RemoteCall): Promise<RemoteReply> {
    return this.incoming.handle(call);
  }

  // --- introspection ------------------------------------------------------------------------

  types(): ActorTypeInfo[] {
    return this.actorTypes.info();
  }

  listActivations(): ActivationInfo[] {
    return this.table.list(this.nodeId);
  }

  async inspectState(type: string, key: unknown): Promise<ActorStateView> {
    const target = this.actorTypes.target(this.actorTypes.named(type), key);
    const act = this.table.byId.get(target.id);
    const active = act !== undefined && act.status === ACTIVE;
    const stored = await this.states.read(target);
    return {
      type: target.address.type,
      key: target.address.key,
      active,
      stored: stored !== undefined,
      state: stored?.state,
      // A copy through the codec, so the caller cannot mutate the actor's state.
      ...(active ? { live: jsonCodec.decode(jsonCodec.encode(act.state)) } : {}),
    };
  }

  activationCount(): number {
    return this.table.byId.size;
  }

  extendContext(name: string, method: ContextExtension): void {
    if (typeof method !== "function") {
      throw invalidArgument("extendContext.method", "expected a function");
    }
    ensureExtensionSlot(name);
    this.extensions.set(name, method);
  }

  isActive(address: ActorAddress): boolean {
    return this.table.isActive(address);
  }

  close(): Promise<void> {
    if (this.closed === undefined) this.closed = shutDown(this.closeParts);
    return this.closed;
  }
}

/**
 * Creates an actor system: the actor types it hosts, on a Store (state, claims) and a Queue
 * (reminders). Without `directory`/`remoting` it runs on one node; the cluster mode passes both.
 */
export function createActorSystem(options: ActorSystemOptions): ActorSystem {
  return new System(options);
}

/** Whether `value` is an actor definition made by `defineActor` (for validating configuration). */
export function isActorDefinition(value: unknown): value is AnyActorDefinition {
  return compiledOf(value) !== undefined;
}
