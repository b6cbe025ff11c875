import {
  type Clock,
  closedError,
  fromUtf8,
  invalidArgument,
  jsonCodec,
  type Lease,
  type Logger,
  type Metrics,
  noopLogger,
  noopMetrics,
  type Queue,
  type Store,
  systemClock,
  type Timer,
  TroupeError,
  ulid,
  utf8,
} from "@troupe/core";
import { z } from "zod";
import { Activation, Deadlines, Envelope, Status, type Target } from "./activation.js";
import {
  type ActorRef,
  type ActorRefJson,
  type AnyActorDefinition,
  type CompiledAction,
  type CompiledDefinition,
  compiledOf,
  type KeyArgs,
  type KeyKind,
  normalizeKey,
  type ReminderSchedule,
  type SaveMode,
  type UntypedActorRef,
  zodFieldError,
} from "./define.js";
import {
  type ActorAddress,
  type ActorDirectory,
  type ActorRemoting,
  type Ownership,
  type RemoteCall,
  type RemoteReply,
  remoteCallSchema,
} from "./directory.js";
import { createLocalDirectory } from "./local-directory.js";

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
}

/** An actor type as {@link ActorSystem.types} describes it (for tooling such as a REST API). */
export interface ActorTypeInfo {
  /** The type name. */
  readonly name: string;
  /** How the type is keyed: `"string"`, `"integer"` or `"none"`. */
  readonly keyKind: KeyKind;
  /** The callable actions (reminder handlers are not listed). */
  readonly actions: readonly {
    readonly name: string;
    readonly readOnly: boolean;
    readonly interleave: boolean;
  }[];
  /** Idle time before deactivation, in ms. */
  readonly idleTimeoutMs: number;
  /** `"after-turn"` or `"explicit"`. */
  readonly saveMode: SaveMode;
}

/** One activation in this node's memory, as {@link ActorSystem.listActivations} reports it. */
export interface ActivationInfo {
  /** The actor type. */
  readonly type: string;
  /** The address key (`""` for key-less actors, the decimal text for integer keys). */
  readonly key: string;
  /** The node holding it (this one). */
  readonly nodeId: string;
  /** When it was activated (ms since the epoch, on the system's Clock). */
  readonly since: number;
  /**
   * When it was last seen busy, to the precision of the idle sweep: calls only mark an
   * activation, and the sweep turns the mark into a time (now, for a mark not swept yet).
   */
  readonly lastCallAt: number;
  /** `"activating"`, `"active"` or `"deactivating"`. */
  readonly status: "activating" | "active" | "deactivating";
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
});

const refJsonSchema = z.object({
  type: z.string().min(1),
  key: z.union([z.string(), z.number(), z.null()]),
});
const reminderPayloadSchema = z.object({
  type: z.string(),
  key: z.string(),
  name: z.string(),
  periodMs: z.number().int().positive().optional(),
});
const scheduleSchema = z.union([
  z.strictObject({
    at: z.number().int().nonnegative(),
    periodMs: z.number().int().positive().optional(),
  }),
  z.strictObject({
    afterMs: z.number().int().nonnegative(),
    periodMs: z.number().int().positive().optional(),
  }),
]);

const MAX_REROUTES = 5;
const REMINDER_BATCH = 64;
/** The Queue partition reminders live in, so a queue shared with other work is left alone. */
export const REMINDER_PARTITION = "troupe.actors.reminders";
const EMPTY_CHAIN: readonly string[] = Object.freeze([]);

interface Registered {
  readonly definition: AnyActorDefinition;
  readonly compiled: CompiledDefinition;
  readonly RefClass: new (target: Target, chain: readonly string[]) => RefBase;
}

/** The base of every reference: target, chain and a cached activation. */
class RefBase {
  /** The activation last used, so the hot path skips the map lookup. */
  act: Activation | undefined = undefined;
  private senders: Record<string, (...args: unknown[]) => void> | undefined = undefined;

  constructor(
    readonly target: Target,
    readonly chain: readonly string[],
    readonly system: System,
  ) {}

  get type(): string {
    return this.target.address.type;
  }

  get key(): unknown {
    return this.target.keyValue;
  }

  get address(): ActorAddress {
    return this.target.address;
  }

  get send(): Record<string, (...args: unknown[]) => void> {
    if (this.senders === undefined) {
      const senders: Record<string, (...args: unknown[]) => void> = {};
      for (const name of this.target.definition.actionNames) {
        const action = this.target.definition.actions.get(name) as CompiledAction;
        senders[name] = (...args: unknown[]) => this.system.tell(this, action, args);
      }
      this.senders = senders;
    }
    return this.senders;
  }

  call(action: string, ...args: unknown[]): Promise<unknown> {
    const compiled = this.target.definition.actions.get(action);
    if (compiled === undefined || action.startsWith("@")) {
      return Promise.reject(unknownAction(this.target.definition, action));
    }
    return this.system.request(this, compiled, args);
  }

  tell(action: string, ...args: unknown[]): void {
    const compiled = this.target.definition.actions.get(action);
    if (compiled === undefined || action.startsWith("@"))
      throw unknownAction(this.target.definition, action);
    this.system.tell(this, compiled, args);
  }

  toJSON(): ActorRefJson {
    const key = this.target.keyValue;
    return {
      type: this.target.address.type,
      key: key === undefined ? null : (key as string | number),
    };
  }
}

function unknownAction(definition: CompiledDefinition, action: string): TroupeError {
  return invalidArgument(
    "action",
    `${definition.name} has no action ${JSON.stringify(action)} (actions: ${definition.actionNames.join(", ")})`,
  );
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Maps an error to a wire reply. */
function errorReply(error: unknown): RemoteReply {
  if (TroupeError.isInstance(error, "MOVED")) return { kind: "moved" };
  if (error instanceof Error) {
    const code = TroupeError.isInstance(error) ? error.code : undefined;
    return {
      kind: "error",
      error: { name: error.name, message: error.message, ...(code === undefined ? {} : { code }) },
    };
  }
  return { kind: "error", error: { name: "Error", message: String(error) } };
}

class System implements ActorSystem {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly deadlines: Deadlines;
  readonly store: Store;
  readonly queue: Queue;
  readonly directory: ActorDirectory;
  readonly remoting: ActorRemoting | undefined;
  readonly logger: Logger;
  closing = false;
  /** Past the drain: every call is refused. */
  private stopped = false;
  private readonly registry = new Map<AnyActorDefinition, Registered>();
  private readonly byName = new Map<string, Registered>();
  private readonly activations = new Map<string, Activation>();
  private readonly locating = new Map<string, Promise<Ownership>>();
  private readonly statePrefix: string;
  private readonly reminderPollMs: number;
  private readonly reminderLeaseMs: number;
  private readonly idleSweepMs: number;
  private readonly drainTimeoutMs: number;
  private turnSeq = 0;
  private sweepTimer: Timer | undefined = undefined;
  private pollTimer: Timer | undefined = undefined;
  private pollAt = Number.POSITIVE_INFINITY;
  private polling = false;
  private pollAgain = false;
  private readonly firing = new Set<Promise<void>>();
  private closed: Promise<void> | undefined = undefined;
  private readonly unsubscribeLost: (() => void) | undefined;
  private readonly metrics: {
    activations: ReturnType<Metrics["counter"]>;
    deactivations: ReturnType<Metrics["counter"]>;
    active: ReturnType<Metrics["gauge"]>;
    saves: ReturnType<Metrics["counter"]>;
    reminders: ReturnType<Metrics["counter"]>;
  };

  constructor(options: ActorSystemOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) throw zodFieldError("createActorSystem", parsed.error);
    this.clock = options.clock ?? systemClock;
    this.deadlines = new Deadlines(this.clock);
    this.store = options.store;
    this.queue = options.queue;
    this.nodeId = options.directory?.nodeId ?? options.nodeId ?? ulid();
    this.directory =
      options.directory ??
      createLocalDirectory({ store: options.store, nodeId: this.nodeId, clock: this.clock });
    this.remoting = options.remoting;
    this.logger = (options.logger ?? noopLogger).child({
      component: "actors",
      nodeId: this.nodeId,
    });
    this.statePrefix = options.statePrefix ?? "actors/state/";
    this.reminderPollMs = options.reminderPollMs ?? 5000;
    this.reminderLeaseMs = options.reminderLeaseMs ?? 60_000;
    const metrics = options.metrics ?? noopMetrics;
    this.metrics = {
      activations: metrics.counter("actors_activations_total", { help: "Activations created" }),
      deactivations: metrics.counter("actors_deactivations_total", { help: "Activations ended" }),
      active: metrics.gauge("actors_active", { help: "Activations in memory" }),
      saves: metrics.counter("actors_state_writes_total", { help: "State writes" }),
      reminders: metrics.counter("actors_reminders_fired_total", { help: "Reminder firings" }),
    };
    let shortestIdle = Number.POSITIVE_INFINITY;
    options.actors.forEach((definition, index) => {
      const compiled = compiledOf(definition);
      if (compiled === undefined) {
        throw invalidArgument(
          `createActorSystem.actors.${index}`,
          "expected a definition from defineActor",
        );
      }
      if (this.byName.has(compiled.name)) {
        throw invalidArgument(
          `createActorSystem.actors.${index}`,
          `two actor types are named ${JSON.stringify(compiled.name)}`,
        );
      }
      const registered: Registered = {
        definition,
        compiled,
        RefClass: this.refClass(compiled),
      };
      this.registry.set(definition, registered);
      this.byName.set(compiled.name, registered);
      shortestIdle = Math.min(shortestIdle, compiled.idleTimeoutMs);
    });
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.idleSweepMs =
      options.idleSweepMs ??
      (Number.isFinite(shortestIdle)
        ? Math.min(60_000, Math.max(1, Math.floor(shortestIdle / 4)))
        : 60_000);
    if (this.remoting !== undefined) {
      void this.remoting
        .listen((call) => this.handleRemoteCall(call))
        .catch((error: unknown) => {
          this.logger.error("actor remoting failed to listen", { error: errorMessage(error) });
        });
    }
    this.unsubscribeLost = this.directory.onOwnershipLost?.((addresses) => {
      for (const address of addresses) {
        const act = this.activations.get(`${address.type}/${address.key}`);
        act?.drop(
          new TroupeError(
            "LEASE_LOST",
            `actor ${address.type}/${address.key}: this node lost its claim (its lease lapsed); the activation was dropped without saving`,
            { details: { address } },
          ),
        );
      }
    });
    this.schedulePoll(this.clock.now());
  }

  /** One class per actor type, with a prototype method per action: no proxies on the hot path. */
  private refClass(compiled: CompiledDefinition): Registered["RefClass"] {
    const system = this;
    class Ref extends RefBase {
      constructor(target: Target, chain: readonly string[]) {
        super(target, chain, system);
      }
    }
    for (const name of compiled.actionNames) {
      const action = compiled.actions.get(name) as CompiledAction;
      Object.defineProperty(Ref.prototype, name, {
        value: function (this: RefBase, ...args: unknown[]) {
          return system.request(this, action, args);
        },
      });
    }
    return Ref;
  }

  // --- references ---------------------------------------------------------------------------

  get<D extends AnyActorDefinition>(definition: D, ...key: KeyArgs<D>): ActorRef<D> {
    return this.typedRef(definition, key[0], EMPTY_CHAIN) as ActorRef<D>;
  }

  typedRef(definition: AnyActorDefinition, key: unknown, chain: readonly string[]): unknown {
    const registered = this.registry.get(definition);
    if (registered === undefined) {
      const name = compiledOf(definition)?.name;
      throw invalidArgument(
        "definition",
        name === undefined
          ? "expected a definition from defineActor"
          : `actor type ${JSON.stringify(name)} is not registered with this system (pass it in createActorSystem({ actors }))`,
      );
    }
    return new registered.RefClass(this.target(registered.compiled, key), chain);
  }

  private target(compiled: CompiledDefinition, key: unknown): Target {
    const keyString = normalizeKey(compiled.keyKind, key, compiled.name);
    return {
      definition: compiled,
      address: { type: compiled.name, key: keyString },
      id: `${compiled.name}/${keyString}`,
      keyValue: compiled.keyKind === "none" ? undefined : key,
    };
  }

  untypedRef(target: Target, chain: readonly string[]): UntypedActorRef {
    const registered = this.byName.get(target.address.type) as Registered;
    return new registered.RefClass(target, chain) as unknown as UntypedActorRef;
  }

  ref(json: ActorRefJson): UntypedActorRef {
    return this.revive(json, EMPTY_CHAIN);
  }

  revive(json: ActorRefJson, chain: readonly string[]): UntypedActorRef {
    const parsed = refJsonSchema.safeParse(json);
    if (!parsed.success) throw zodFieldError("ref", parsed.error);
    const registered = this.byName.get(parsed.data.type);
    if (registered === undefined) {
      throw invalidArgument("ref.type", `unknown actor type ${JSON.stringify(parsed.data.type)}`);
    }
    const key = parsed.data.key === null ? undefined : parsed.data.key;
    const target = this.target(registered.compiled, key);
    return new registered.RefClass(target, chain) as unknown as UntypedActorRef;
  }

  // --- calls --------------------------------------------------------------------------------

  /** A request/response call through a reference. */
  request(ref: RefBase, action: CompiledAction, args: readonly unknown[]): Promise<unknown> {
    if (this.closing && (ref.chain.length === 0 || this.stopped)) {
      return Promise.reject(closedError("actor system"));
    }
    let act = ref.act;
    if (act === undefined || act.status !== Status.ACTIVE) {
      act = this.activations.get(ref.target.id);
      if (act === undefined) {
        return new Promise((resolve, reject) => {
          this.dispatch(new Envelope(ref.target, action, args, ref.chain, resolve, reject));
        });
      }
      ref.act = act;
    }
    return act.request(action, args, ref.chain);
  }

  /** A one-way send: failures are logged. */
  tell(ref: RefBase, action: CompiledAction, args: readonly unknown[]): void {
    if (this.closing && ref.chain.length === 0) throw closedError("actor system");
    const envelope = new Envelope(ref.target, action, args, EMPTY_CHAIN, undefined, (error) =>
      this.logger.warn("actor one-way send failed", {
        address: ref.target.address,
        action: action.name,
        error: errorMessage(error),
      }),
    );
    this.dispatch(envelope);
  }

  async invoke(
    type: string,
    key: unknown,
    action: string,
    args: readonly unknown[],
  ): Promise<unknown> {
    const { ref, compiled, checked } = this.byNameCall(type, key, action, args);
    return this.request(ref, compiled, checked);
  }

  send(type: string, key: unknown, action: string, args: readonly unknown[]): void {
    const { ref, compiled, checked } = this.byNameCall(type, key, action, args);
    this.tell(ref, compiled, checked);
  }

  /** Resolves and checks a call by name (shared by invoke and send). */
  private byNameCall(type: string, key: unknown, action: string, args: readonly unknown[]) {
    const registered = this.byName.get(type);
    if (registered === undefined)
      throw invalidArgument("type", `unknown actor type ${JSON.stringify(type)}`);
    const compiled = registered.compiled.actions.get(action);
    if (compiled === undefined || action.startsWith("@"))
      throw unknownAction(registered.compiled, action);
    if (!Array.isArray(args)) throw invalidArgument("args", "expected an array of arguments");
    const checked = this.checkArgs(registered.compiled, compiled, args);
    const ref = new registered.RefClass(this.target(registered.compiled, key), EMPTY_CHAIN);
    return { ref, compiled, checked };
  }

  // --- introspection ------------------------------------------------------------------------

  types(): ActorTypeInfo[] {
    return [...this.byName.values()].map(({ compiled }) => ({
      name: compiled.name,
      keyKind: compiled.keyKind,
      actions: compiled.actionNames.map((name) => {
        const action = compiled.actions.get(name) as CompiledAction;
        return { name, readOnly: action.readOnly, interleave: action.interleave };
      }),
      idleTimeoutMs: compiled.idleTimeoutMs,
      saveMode: compiled.saveMode,
    }));
  }

  listActivations(): ActivationInfo[] {
    const now = this.clock.now();
    return [...this.activations.values()].map((act) => ({
      type: act.target.address.type,
      key: act.target.address.key,
      nodeId: this.nodeId,
      since: act.since,
      lastCallAt: act.touched ? now : act.lastActivity,
      status:
        act.status === Status.ACTIVE
          ? "active"
          : act.status === Status.ACTIVATING
            ? "activating"
            : "deactivating",
    }));
  }

  async inspectState(type: string, key: unknown): Promise<ActorStateView> {
    const registered = this.byName.get(type);
    if (registered === undefined)
      throw invalidArgument("type", `unknown actor type ${JSON.stringify(type)}`);
    const target = this.target(registered.compiled, key);
    const act = this.activations.get(target.id);
    const active = act !== undefined && act.status === Status.ACTIVE;
    const entry = await this.store.get(this.stateKey(target));
    return {
      type: target.address.type,
      key: target.address.key,
      active,
      stored: entry !== undefined,
      state: entry === undefined ? undefined : jsonCodec.decode(entry.value),
      // A copy through the codec, so the caller cannot mutate the actor's state.
      ...(active ? { live: jsonCodec.decode(jsonCodec.encode(act.state)) } : {}),
    };
  }

  private checkArgs(
    definition: CompiledDefinition,
    action: CompiledAction,
    args: readonly unknown[],
  ): readonly unknown[] {
    if (action.args === undefined) return args;
    const parsed = action.args.safeParse(args);
    if (!parsed.success)
      throw zodFieldError(`${definition.name}.${action.name}.args`, parsed.error);
    return parsed.data as readonly unknown[];
  }

  /** Routes an envelope: the local activation, a new local one, or the owning node. */
  dispatch(envelope: Envelope): void {
    const target = envelope.target;
    const act = this.activations.get(target.id);
    if (act !== undefined) {
      act.submit(envelope);
      return;
    }
    envelope.arm(this.deadlines, target.definition.callTimeoutMs);
    if (this.remoting === undefined || envelope.fromRemote) {
      this.activate(target, undefined).submit(envelope);
      return;
    }
    this.locate(envelope);
  }

  redispatch(envelope: Envelope): void {
    if (envelope.settled) return;
    if (this.closing && (this.stopped || envelope.chain.length === 0) && !envelope.fromRemote) {
      envelope.fail(closedError("actor system"));
      return;
    }
    if (++envelope.reroutes > MAX_REROUTES) {
      envelope.fail(this.unavailable(envelope.target.address));
      return;
    }
    if (!envelope.fromRemote) this.directory.forget(envelope.target.address);
    this.dispatch(envelope);
  }

  private unavailable(address: ActorAddress): TroupeError {
    return new TroupeError(
      "UNAVAILABLE",
      `actor ${address.type}/${address.key}: no node would take the call after ${MAX_REROUTES} attempts`,
      { details: { address } },
    );
  }

  private locate(envelope: Envelope): void {
    const target = envelope.target;
    let located = this.locating.get(target.id);
    if (located === undefined) {
      located = this.directory.locate(target.address);
      this.locating.set(target.id, located);
      const forget = () => {
        this.locating.delete(target.id);
      };
      located.then(forget, forget);
    }
    located.then(
      (ownership) => {
        if (envelope.settled) return;
        if (ownership.nodeId === this.nodeId) {
          const act =
            this.activations.get(target.id) ??
            this.activate(target, ownership.epoch > 0 ? ownership : undefined);
          act.submit(envelope);
        } else this.sendRemote(ownership.nodeId, envelope);
      },
      (error: unknown) => envelope.fail(error),
    );
  }

  private sendRemote(nodeId: string, envelope: Envelope): void {
    const remoting = this.remoting;
    if (remoting === undefined) {
      envelope.fail(
        new TroupeError(
          "UNAVAILABLE",
          `actor ${envelope.target.id} is owned by node ${nodeId}, and this system has no remoting`,
        ),
      );
      return;
    }
    const call: RemoteCall = {
      address: envelope.target.address,
      action: envelope.action.name,
      args: envelope.args,
      oneWay: envelope.resolve === undefined,
      chain: envelope.chain,
      timeoutMs: Math.max(1, envelope.deadline - this.clock.now()),
    };
    remoting.send(nodeId, call).then(
      (reply) => {
        if (reply.kind === "ok") {
          envelope.value = reply.value;
          envelope.ok();
        } else if (reply.kind === "error") {
          envelope.fail(
            new TroupeError(reply.error.code ?? "REMOTE_ERROR", reply.error.message, {
              details: { node: nodeId, remoteName: reply.error.name, address: call.address },
            }),
          );
        } else this.redispatch(envelope);
      },
      (error: unknown) => envelope.fail(error),
    );
  }

  handleRemoteCall(call: RemoteCall): Promise<RemoteReply> {
    let target: Target;
    let action: CompiledAction;
    let args: readonly unknown[];
    try {
      const parsed = remoteCallSchema.safeParse(call);
      if (!parsed.success) throw zodFieldError("call", parsed.error);
      // A closing node still serves calls from inside running turns (they carry a chain).
      if (this.closing && parsed.data.chain.length === 0) return Promise.resolve({ kind: "moved" });
      const registered = this.byName.get(parsed.data.address.type);
      if (registered === undefined) {
        throw invalidArgument(
          "call.address.type",
          `unknown actor type ${JSON.stringify(parsed.data.address.type)}`,
        );
      }
      const compiled = registered.compiled;
      const rawKey = parsed.data.address.key;
      const key =
        compiled.keyKind === "integer"
          ? /^-?\d+$/.test(rawKey)
            ? Number(rawKey)
            : rawKey
          : compiled.keyKind === "none"
            ? undefined
            : rawKey;
      target = this.target(compiled, key);
      const found = compiled.actions.get(parsed.data.action);
      if (found === undefined) throw unknownAction(compiled, parsed.data.action);
      action = found;
      args = this.checkArgs(compiled, action, parsed.data.args);
    } catch (error) {
      return Promise.resolve(errorReply(error));
    }
    return new Promise<RemoteReply>((resolve) => {
      const envelope = new Envelope(
        target,
        action,
        args,
        call.chain,
        call.oneWay ? undefined : (value) => resolve({ kind: "ok", value }),
        call.oneWay
          ? (error) => {
              this.logger.warn("actor one-way call failed", {
                address: target.address,
                action: action.name,
                error: errorMessage(error),
              });
            }
          : (error) => resolve(errorReply(error)),
      );
      envelope.fromRemote = true;
      envelope.deadline = this.clock.now() + call.timeoutMs;
      this.dispatch(envelope);
      if (call.oneWay) resolve({ kind: "ok", value: undefined });
    });
  }

  // --- activations --------------------------------------------------------------------------

  private activate(target: Target, ownership: Ownership | undefined): Activation {
    const act = new Activation(this, target);
    this.activations.set(target.id, act);
    void act.boot(ownership);
    return act;
  }

  activated(activation: Activation): void {
    activation.counted = true;
    this.metrics.activations.inc();
    this.metrics.active.inc();
    this.armSweep();
  }

  removed(activation: Activation): void {
    if (this.activations.get(activation.target.id) === activation) {
      this.activations.delete(activation.target.id);
    }
    if (activation.counted) {
      activation.counted = false;
      this.metrics.deactivations.inc();
      this.metrics.active.dec();
    }
  }

  saved(): void {
    this.metrics.saves.inc();
  }

  stateKey(target: Target): string {
    return `${this.statePrefix}${target.id}`;
  }

  nextTurnId(): string {
    return `${this.nodeId}:${(++this.turnSeq).toString(36)}`;
  }

  activationCount(): number {
    return this.activations.size;
  }

  isActive(address: ActorAddress): boolean {
    const act = this.activations.get(`${address.type}/${address.key}`);
    return act !== undefined && act.status === Status.ACTIVE;
  }

  private armSweep(): void {
    if (this.sweepTimer !== undefined || this.closing) return;
    this.sweepTimer = this.clock.setTimer(this.idleSweepMs, () => {
      this.sweepTimer = undefined;
      this.sweep();
    });
  }

  /** Deactivates activations idle for their type's idleTimeoutMs. */
  private sweep(): void {
    if (this.closing) return;
    const now = this.clock.now();
    for (const act of this.activations.values()) {
      if (act.touched) {
        act.touched = false;
        act.lastActivity = now;
        continue;
      }
      if (
        act.status === Status.ACTIVE &&
        act.isQuiet() &&
        now - act.lastActivity >= act.definition.idleTimeoutMs
      ) {
        void act.deactivate("idle");
      }
    }
    if (this.activations.size > 0) this.armSweep();
  }

  // --- reminders ----------------------------------------------------------------------------

  private reminderId(target: Target, name: string): string {
    return `actors/${target.id}/${name}`;
  }

  async setReminder(target: Target, name: string, schedule: ReminderSchedule): Promise<void> {
    if (!target.definition.reminderNames.has(name)) {
      throw invalidArgument(
        "setReminder.name",
        `${target.definition.name} declares no reminder ${JSON.stringify(name)} (add it to the definition's reminders)`,
      );
    }
    const parsed = scheduleSchema.safeParse(schedule);
    if (!parsed.success) throw zodFieldError("setReminder.schedule", parsed.error);
    const at = "at" in parsed.data ? parsed.data.at : this.clock.now() + parsed.data.afterMs;
    const id = this.reminderId(target, name);
    const payload = utf8(
      JSON.stringify({
        type: target.address.type,
        key: target.address.key,
        name,
        ...(parsed.data.periodMs === undefined ? {} : { periodMs: parsed.data.periodMs }),
      }),
    );
    // Enqueue dedupes on the id, so replacing a reminder is remove-then-enqueue.
    await this.queue.remove(id);
    await this.queue.enqueue({ id, payload, availableAt: at, partitionKey: REMINDER_PARTITION });
    this.schedulePoll(at);
  }

  async clearReminder(target: Target, name: string): Promise<void> {
    await this.queue.remove(this.reminderId(target, name));
  }

  private schedulePoll(at: number): void {
    if (this.closing) return;
    if (this.pollTimer !== undefined) {
      if (this.pollAt <= at) return;
      this.pollTimer.cancel();
    }
    this.pollAt = at;
    this.pollTimer = this.clock.setTimer(at - this.clock.now(), () => {
      this.pollTimer = undefined;
      this.pollAt = Number.POSITIVE_INFINITY;
      void this.poll();
    });
  }

  /** Claims due reminders and fires them; then sleeps until the next one (or the poll interval). */
  private async poll(): Promise<void> {
    if (this.closing) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = true;
    try {
      do {
        this.pollAgain = false;
        for (;;) {
          const leases = await this.queue.claim({
            limit: REMINDER_BATCH,
            leaseMs: this.reminderLeaseMs,
            partitionKey: REMINDER_PARTITION,
          });
          for (const lease of leases) {
            const firing = this.fire(lease);
            this.firing.add(firing);
            void firing.finally(() => this.firing.delete(firing));
          }
          if (leases.length < REMINDER_BATCH || this.closing) break;
        }
      } while (this.pollAgain && !this.closing);
      const next = await this.queue.nextAvailableAt(REMINDER_PARTITION);
      const now = this.clock.now();
      this.schedulePoll(
        next === undefined
          ? now + this.reminderPollMs
          : Math.min(Math.max(next, now), now + this.reminderPollMs),
      );
    } catch (error) {
      if (!this.closing) {
        this.logger.warn("actor reminder poll failed", { error: errorMessage(error) });
        this.schedulePoll(this.clock.now() + this.reminderPollMs);
      }
    } finally {
      this.polling = false;
    }
  }

  private async fire(lease: Lease): Promise<void> {
    let payload: z.infer<typeof reminderPayloadSchema>;
    try {
      payload = reminderPayloadSchema.parse(JSON.parse(fromUtf8(lease.payload)));
    } catch (error) {
      this.logger.error("actor reminder item is not a reminder; dropping it", {
        id: lease.id,
        error: errorMessage(error),
      });
      await this.queue.ack(lease).catch(() => {});
      return;
    }
    const registered = this.byName.get(payload.type);
    const action = registered?.compiled.actions.get(`@reminder:${payload.name}`);
    const now = this.clock.now();
    try {
      if (registered === undefined || action === undefined) {
        throw new TroupeError(
          "NOT_FOUND",
          `no reminder handler ${payload.type}.${payload.name} on this node`,
        );
      }
      const compiled = registered.compiled;
      const key =
        compiled.keyKind === "integer"
          ? Number(payload.key)
          : compiled.keyKind === "none"
            ? undefined
            : payload.key;
      const ref = new registered.RefClass(this.target(compiled, key), EMPTY_CHAIN);
      this.metrics.reminders.inc();
      // Keep the lease while the handler runs, so a slow one does not fire again elsewhere.
      const keeper = this.keepLease(lease);
      try {
        // Fired while closing: the call is refused and the item retried by the next system.
        await this.request(ref, action, [
          { name: payload.name, dueAt: lease.availableAt, attempt: lease.attempts },
        ]);
      } finally {
        keeper.cancel();
      }
    } catch (error) {
      if (!this.closing) {
        this.logger.warn("actor reminder failed; retrying", {
          id: lease.id,
          attempt: lease.attempts,
          error: errorMessage(error),
        });
      }
      const retryAt = now + Math.min(60_000, 1000 * 2 ** Math.min(lease.attempts - 1, 6));
      await this.finishReminder(lease, retryAt);
      return;
    }
    if (payload.periodMs === undefined) await this.finishReminder(lease, undefined);
    else {
      const periods = Math.floor((this.clock.now() - lease.availableAt) / payload.periodMs) + 1;
      await this.finishReminder(lease, lease.availableAt + periods * payload.periodMs);
    }
  }

  /** Extends `lease` every half lease until cancelled. */
  private keepLease(lease: Lease): Timer {
    let timer: Timer | undefined;
    let cancelled = false;
    const extend = () => {
      timer = this.clock.setTimer(Math.max(1, Math.floor(this.reminderLeaseMs / 2)), () => {
        if (cancelled) return;
        this.queue.extend(lease, this.reminderLeaseMs).then(
          () => {
            if (!cancelled) extend();
          },
          (error: unknown) => {
            // LEASE_LOST: the handler replaced or cleared its own reminder.
            if (!TroupeError.isInstance(error, "LEASE_LOST")) {
              this.logger.warn("actor reminder lease could not be extended", {
                id: lease.id,
                error: errorMessage(error),
              });
            }
          },
        );
      });
    };
    extend();
    return {
      cancel: () => {
        cancelled = true;
        timer?.cancel();
      },
    };
  }

  /** Acknowledges a fired reminder, or releases it to fire again at `retryAt`. */
  private async finishReminder(lease: Lease, retryAt: number | undefined): Promise<void> {
    try {
      if (retryAt === undefined) await this.queue.ack(lease);
      else {
        await this.queue.retry(lease, { availableAt: retryAt });
        this.schedulePoll(retryAt);
      }
    } catch (error) {
      // LEASE_LOST: the handler replaced or cleared its own reminder; nothing left to finish.
      if (!TroupeError.isInstance(error, "LEASE_LOST")) {
        this.logger.warn("actor reminder could not be finished", {
          id: lease.id,
          error: errorMessage(error),
        });
      }
    }
  }

  // --- shutdown -----------------------------------------------------------------------------

  close(): Promise<void> {
    if (this.closed === undefined) this.closed = this.shutdown();
    return this.closed;
  }

  /** Runs `work`; resolves false if it has not finished after drainTimeoutMs (on the Clock). */
  private withinDrainTime(work: () => Promise<void>): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimer(this.drainTimeoutMs, () => resolve(false));
      work().then(
        () => {
          timer.cancel();
          resolve(true);
        },
        (error: unknown) => {
          timer.cancel();
          this.logger.warn("actor system drain failed", { error: errorMessage(error) });
          resolve(false);
        },
      );
    });
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.pollTimer?.cancel();
    this.pollTimer = undefined;
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    // Let running and waiting turns finish (calls made from inside turns are still served),
    // then deactivate everything; what is still busy at the deadline is dropped unsaved.
    const finished = await this.withinDrainTime(async () => {
      for (;;) {
        const busy = [...this.activations.values()];
        await Promise.all(busy.map((act) => act.drained()));
        await Promise.all([...this.firing]);
        const quiet = [...this.activations.values()].every((act) => act.isQuiet());
        if (quiet && this.firing.size === 0) break;
      }
      while (this.polling) await new Promise<void>((resolve) => setImmediate(resolve));
      // From here on nothing new starts, not even calls from inside turns.
      this.stopped = true;
      await Promise.all([...this.activations.values()].map((act) => act.deactivate("shutdown")));
    });
    if (!finished) {
      this.stopped = true;
      const stuck = [...this.activations.values()];
      this.logger.warn("actor system closed with turns still running; dropped them unsaved", {
        activations: stuck.map((act) => act.target.id),
        drainTimeoutMs: this.drainTimeoutMs,
      });
      for (const act of stuck) {
        act.drop(
          new TroupeError(
            "CLOSED",
            `actor ${act.target.id}: the system closed before its turns finished (drainTimeoutMs ${this.drainTimeoutMs})`,
          ),
        );
      }
    }
    this.unsubscribeLost?.();
    await this.remoting?.close();
    await this.directory.close();
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
