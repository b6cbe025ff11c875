import { invalidArgument, parseWith } from "@troupe/core";
import { z } from "zod";
import type { ActorAddress } from "./directory.js";

/** How an actor type is keyed: by a string, by an integer, or not at all (one instance). */
export type KeyKind = "string" | "integer" | "none";

/** The key value for a key kind: a string, a safe integer, or nothing. */
export type KeyOf<K extends KeyKind> = K extends "string"
  ? string
  : K extends "integer"
    ? number
    : undefined;

/**
 * Why an activation ends: idle for its timeout, `ctx.deactivate()`, or the system closing.
 * (An activation that lost its claim is dropped without running `onDeactivate`.)
 */
export type DeactivationReason = "idle" | "requested" | "shutdown";

/** When state is written to the Store. */
export type SaveMode = "after-turn" | "explicit";

/** A reference's JSON form: what `ref.toJSON()` returns and `system.ref()` revives. */
export interface ActorRefJson {
  /** The actor type's name. */
  readonly type: string;
  /** The key (a string, an integer, or null for actors without a key). */
  readonly key: string | number | null;
}

/** A reference to an actor whose actions are not known statically (`ctx.self`, `system.ref`). */
export interface UntypedActorRef {
  /** The actor type's name. */
  readonly type: string;
  /** The address: type and key as a string (`""` for actors without a key). */
  readonly address: ActorAddress;
  /** Calls `action` with `args` and resolves with its result. */
  call(action: string, ...args: unknown[]): Promise<unknown>;
  /** Sends `action` one-way: returns at once; failures are logged, not returned. */
  tell(action: string, ...args: unknown[]): void;
  /** The serialisable form. */
  toJSON(): ActorRefJson;
}

/** When a timer first fires, and whether it repeats. */
export interface TimerOptions {
  /** Delay before the first firing, in ms. */
  readonly afterMs: number;
  /** Fire again every `periodMs` ms until cancelled or the activation ends. */
  readonly periodMs?: number;
  /**
   * Whether a firing counts as activity that keeps the actor from idle deactivation.
   * Default false, so a forgotten periodic timer cannot keep an actor in memory forever.
   */
  readonly keepAlive?: boolean;
}

/** A volatile timer; cancelling is idempotent. */
export interface ActorTimer {
  /** Stops further firings. */
  cancel(): void;
}

/** When a durable reminder fires: at a time, or after a delay; optionally periodically. */
export type ReminderSchedule =
  | { readonly at: number; readonly periodMs?: number }
  | { readonly afterMs: number; readonly periodMs?: number };

/** What a reminder handler receives besides the context. */
export interface ReminderFiring {
  /** The reminder's name. */
  readonly name: string;
  /** When it was due (ms since the epoch). */
  readonly dueAt: number;
  /** How many times this item was claimed, this firing included (more than 1 after a retry). */
  readonly attempt: number;
}

/** What an action, hook, timer or reminder handler gets as its first argument. */
/**
 * Methods other packages add to every turn's context through `ActorSystem.extendContext`
 * (`@troupe/actor-tx` adds `transaction`). They declare them here by module augmentation:
 * `declare module "@troupe/actors" { interface ActorContextExtensions { … } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by module augmentation in other packages
export interface ActorContextExtensions {}

/** What a handler receives: the context's own members plus {@link ActorContextExtensions}. */
export interface ActorContext<State, Key>
  extends ActorContextCore<State, Key>,
    ActorContextExtensions {}

/** The members every turn's context has, whatever other packages add. */
export interface ActorContextCore<State, Key> {
  /** The actor's state. Mutate it, or assign a new value; it is saved per the save mode. */
  state: State;
  /** The actor's key (undefined for actors without a key). */
  readonly key: Key;
  /** The actor's address (type and key as a string). */
  readonly address: ActorAddress;
  /** A reference to this actor that carries the current call chain. */
  readonly self: UntypedActorRef;
  /** The system clock's time, ms since the epoch. */
  now(): number;
  /**
   * A typed reference to another actor (or this one). Calls through it carry this turn's call
   * chain, so a call that comes back to this actor runs inside this turn instead of deadlocking.
   */
  get<D extends AnyActorDefinition>(definition: D, ...key: KeyArgs<D>): ActorRef<D>;
  /** Revives a serialised reference, carrying the call chain like `get`. */
  ref(json: ActorRefJson): UntypedActorRef;
  /** Validates and writes the state now (the only way state is written in "explicit" mode). */
  save(): Promise<void>;
  /** Starts a volatile timer: its callback runs as a turn; it dies with the activation. */
  setTimer(options: TimerOptions, callback: (ctx: ActorContext<State, Key>) => unknown): ActorTimer;
  /**
   * Sets (or replaces) the durable reminder `name`, which must be declared in the definition's
   * `reminders`. Reminders live in the Queue, fire at least once, and re-activate the actor.
   */
  setReminder(name: string, schedule: ReminderSchedule): Promise<void>;
  /** Removes the reminder `name` (a no-op when none is set). */
  clearReminder(name: string): Promise<void>;
  /** Deactivates the actor once the current turn ends (state is saved per the save mode). */
  deactivate(): void;
}

/** An action handler: the context, then the caller's arguments. */
export type ActionHandler<Ctx> = (ctx: Ctx, ...args: never[]) => unknown;

/** An action with options. */
export interface ActionOptions<Ctx> {
  /** The handler. */
  readonly handler: ActionHandler<Ctx>;
  /** Reads state only: may run at the same time as other read-only turns (never with writes). */
  readonly readOnly?: boolean;
  /** Runs at any time, even while another turn is running. */
  readonly interleave?: boolean;
  /**
   * Safe to run more than once with the same arguments. In a cluster, a call whose node died
   * before it answered (`OUTCOME_UNKNOWN`: it may or may not have run) is sent again, to the
   * actor's next owner, only for idempotent and read-only actions. Default false.
   */
  readonly idempotent?: boolean;
  /**
   * A zod schema for the argument tuple (for example `z.tuple([z.number()])`), checked on calls
   * that come from outside the process (remote calls, `system.invoke`). In-process typed calls
   * are trusted.
   */
  readonly args?: z.ZodType;
}

/** An action: a handler, or a handler with options. */
export type ActionSpec<Ctx> = ActionHandler<Ctx> | ActionOptions<Ctx>;

/** What `defineActor` takes. */
export interface ActorSpec<
  K extends KeyKind,
  S extends z.ZodType,
  A extends Record<string, ActionSpec<ActorContext<z.output<S>, KeyOf<K>>>>,
> {
  /** The type name: a letter, then letters, digits, `_`, `.` or `-` (at most 100). */
  readonly name: string;
  /** The key kind. */
  readonly key: K;
  /** The state schema, checked when state is loaded and before it is saved. */
  readonly state: S;
  /** The state of an actor that has never been saved. */
  readonly initialState: (key: KeyOf<K>) => z.output<S>;
  /** The actions, by name. */
  readonly actions: A;
  /** Runs after the state is loaded, before the first call. Failing aborts the activation. */
  readonly onActivate?: (ctx: ActorContext<z.output<S>, KeyOf<K>>) => unknown;
  /** Runs before the state is saved at deactivation, with the reason. */
  readonly onDeactivate?: (
    ctx: ActorContext<z.output<S>, KeyOf<K>>,
    reason: DeactivationReason,
  ) => unknown;
  /** Idle time after which the activation is removed from memory. Default 10 minutes. */
  readonly idleTimeoutMs?: number;
  /** "after-turn" (default): save when a turn changed the state; "explicit": only `ctx.save()`. */
  readonly saveMode?: SaveMode;
  /** Reminder handlers, by name. */
  readonly reminders?: Record<
    string,
    (ctx: ActorContext<z.output<S>, KeyOf<K>>, firing: ReminderFiring) => unknown
  >;
  /** Most calls waiting per activation; more are rejected with `MAILBOX_FULL`. Default 10,000. */
  readonly mailboxSize?: number;
  /** How long a call may wait and run before it fails with `TIMEOUT`. Default 30 s. */
  readonly callTimeoutMs?: number;
}

/** @internal A compiled action, as the runtime uses it. */
export interface CompiledAction {
  readonly name: string;
  readonly handler: (ctx: unknown, ...args: unknown[]) => unknown;
  readonly readOnly: boolean;
  readonly interleave: boolean;
  /** Declared idempotent, or read-only: retried automatically when its outcome is unknown. */
  readonly idempotent: boolean;
  readonly args: z.ZodType | undefined;
}

/** @internal The runtime's view of a definition. */
export interface CompiledDefinition {
  readonly name: string;
  readonly keyKind: KeyKind;
  readonly state: z.ZodType;
  readonly initialState: (key: unknown) => unknown;
  /** Actions and reminder handlers (named `@reminder:<name>`). */
  readonly actions: ReadonlyMap<string, CompiledAction>;
  readonly actionNames: readonly string[];
  readonly reminderNames: ReadonlySet<string>;
  readonly onActivate: ((ctx: unknown) => unknown) | undefined;
  readonly onDeactivate: ((ctx: unknown, reason: DeactivationReason) => unknown) | undefined;
  readonly idleTimeoutMs: number;
  readonly saveMode: SaveMode;
  readonly mailboxSize: number;
  readonly callTimeoutMs: number;
}

// Compiled definitions live beside the public objects, so the exported type stays plain data.
// One registry per process, shared by every copy of this package: a config file loaded through
// another module loader (tsx's tsImport under `troupe dev`) defines actors with its own copy,
// and the runtime's copy must still recognise them.
const REGISTRY = Symbol.for("troupe.actors.compiledDefinitions");
const shared = globalThis as { [REGISTRY]?: WeakMap<object, CompiledDefinition> };
shared[REGISTRY] ??= new WeakMap();
const compiledDefinitions: WeakMap<object, CompiledDefinition> = shared[REGISTRY];

/** An actor type, as returned by `defineActor`. Pass it to `createActorSystem` and `system.get`. */
export interface ActorDefinition<K extends KeyKind = KeyKind, State = unknown, Actions = unknown> {
  /** The type name. */
  readonly name: string;
  /** The key kind. */
  readonly key: K;
  /** The actions as given (their types drive the typed references). */
  readonly actions: Actions;
  /** Phantom: the state type (never set at run time). */
  readonly stateType?: State;
}

/** Any actor definition. */
export type AnyActorDefinition = ActorDefinition<KeyKind, unknown, unknown>;

/** The key arguments `system.get(definition, ...key)` takes: none for unkeyed actors. */
export type KeyArgs<D> =
  D extends ActorDefinition<infer K, unknown, unknown>
    ? K extends "none"
      ? []
      : [key: KeyOf<K>]
    : never;

type HandlerOf<X> = X extends (ctx: never, ...args: never[]) => unknown
  ? X
  : X extends { readonly handler: infer H }
    ? H
    : never;

/** The caller-side arguments of an action. */
export type ActionArgs<X> =
  HandlerOf<X> extends (ctx: never, ...args: infer P) => unknown ? P : never;

/** The caller-side result of an action. */
export type ActionResult<X> =
  HandlerOf<X> extends (ctx: never, ...args: never[]) => infer R ? Awaited<R> : never;

/** One-way senders for every action of `Actions`. */
export type ActorSenders<Actions> = {
  readonly [N in keyof Actions]: (...args: ActionArgs<Actions[N]>) => void;
};

/** Request/response methods for every action of `Actions`. */
export type ActorMethods<Actions> = {
  readonly [N in keyof Actions]: (
    ...args: ActionArgs<Actions[N]>
  ) => Promise<ActionResult<Actions[N]>>;
};

/** A typed reference: one method per action, `send` for one-way calls, and `toJSON`. */
export type ActorRef<D> =
  D extends ActorDefinition<infer K, unknown, infer Actions>
    ? ActorMethods<Actions> & {
        /** The actor type's name. */
        readonly type: string;
        /** The key. */
        readonly key: KeyOf<K>;
        /** The address (type and key as a string). */
        readonly address: ActorAddress;
        /** One-way sends: they return at once; failures are logged. */
        readonly send: ActorSenders<Actions>;
        /** The serialisable form, for passing the reference to other actors or over the wire. */
        toJSON(): ActorRefJson;
      }
    : never;

/** Names a reference object uses itself, so actions cannot take them (`then` would make a ref a thenable). */
const RESERVED_ACTION_NAMES = new Set([
  "then",
  "catch",
  "finally",
  "send",
  "toJSON",
  "type",
  "key",
  "address",
  "constructor",
  "call",
  "tell",
  "__proto__",
  "prototype",
  "hasOwnProperty",
  "toString",
  "valueOf",
]);

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
const ACTION_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$]{0,99}$/;

const isFunction = (value: unknown): value is (...args: never[]) => unknown =>
  typeof value === "function";
const fn = z.custom<(...args: never[]) => unknown>(isFunction, { message: "expected a function" });
const zodSchema = z.custom<z.ZodType>((value) => value instanceof z.ZodType, {
  message: "expected a zod schema",
});
const positiveInt = z.number().int().positive();

const actionObjectSchema = z.strictObject({
  handler: fn,
  readOnly: z.boolean().optional(),
  interleave: z.boolean().optional(),
  idempotent: z.boolean().optional(),
  args: zodSchema.optional(),
});

const definitionSchema = z.strictObject({
  name: z
    .string()
    .regex(NAME_PATTERN, "expected a letter, then letters, digits, _, . or - (at most 100)"),
  key: z.enum(["string", "integer", "none"]),
  state: zodSchema,
  initialState: fn,
  actions: z.record(
    z
      .string()
      .regex(ACTION_PATTERN, "action names are identifiers (letters, digits, _ and $)")
      .refine((name) => !RESERVED_ACTION_NAMES.has(name), "is reserved for references"),
    // Checked one by one below, so an error names the field inside the action object.
    z.unknown(),
  ),
  onActivate: fn.optional(),
  onDeactivate: fn.optional(),
  idleTimeoutMs: positiveInt.optional(),
  saveMode: z.enum(["after-turn", "explicit"]).optional(),
  reminders: z
    .record(z.string().regex(ACTION_PATTERN, "reminder names are identifiers"), fn)
    .optional(),
  mailboxSize: positiveInt.optional(),
  callTimeoutMs: positiveInt.optional(),
});

/** The default idle time before an activation is removed from memory. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60_000;
/** The default mailbox bound per activation. */
export const DEFAULT_MAILBOX_SIZE = 10_000;
/** The default call timeout. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/**
 * Defines an actor type: its key kind, state schema, initial state, actions and lifecycle
 * options. The definition is validated with zod; a bad one throws INVALID_ARGUMENT naming the
 * field (`defineActor(Counter).actions.add.readOnly: …`).
 */
export function defineActor<
  const K extends KeyKind,
  S extends z.ZodType,
  A extends Record<string, ActionSpec<ActorContext<z.output<S>, KeyOf<K>>>>,
>(spec: ActorSpec<K, S, A>): ActorDefinition<K, z.output<S>, A> {
  const label =
    typeof (spec as { name?: unknown })?.name === "string"
      ? `defineActor(${(spec as { name: string }).name})`
      : "defineActor";
  const value = parseWith(definitionSchema, spec, label);
  const actions = new Map<string, CompiledAction>();
  for (const [name, action] of Object.entries(value.actions)) {
    let options: z.output<typeof actionObjectSchema>;
    if (typeof action === "function")
      options = { handler: action as (...args: never[]) => unknown };
    else {
      options = parseWith(actionObjectSchema, action, `${label}.actions.${name}`);
    }
    actions.set(name, {
      name,
      handler: options.handler as CompiledAction["handler"],
      readOnly: options.readOnly === true,
      interleave: options.interleave === true,
      idempotent: options.idempotent === true || options.readOnly === true,
      args: options.args,
    });
  }
  const reminderNames = new Set<string>();
  for (const [name, handler] of Object.entries(value.reminders ?? {})) {
    reminderNames.add(name);
    actions.set(`@reminder:${name}`, {
      name: `@reminder:${name}`,
      handler: handler as CompiledAction["handler"],
      readOnly: false,
      interleave: false,
      idempotent: false,
      args: undefined,
    });
  }
  const compiled: CompiledDefinition = {
    name: value.name,
    keyKind: value.key,
    state: value.state,
    initialState: value.initialState as (key: unknown) => unknown,
    actions,
    actionNames: Object.keys(value.actions),
    reminderNames,
    onActivate: value.onActivate as CompiledDefinition["onActivate"],
    onDeactivate: value.onDeactivate as CompiledDefinition["onDeactivate"],
    idleTimeoutMs: value.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    saveMode: value.saveMode ?? "after-turn",
    mailboxSize: value.mailboxSize ?? DEFAULT_MAILBOX_SIZE,
    callTimeoutMs: value.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
  };
  const definition: ActorDefinition<K, z.output<S>, A> = Object.freeze({
    name: value.name,
    key: spec.key,
    actions: spec.actions,
  });
  compiledDefinitions.set(definition, compiled);
  return definition;
}

/** @internal The compiled form of a definition, or undefined for anything else. */
export function compiledOf(definition: unknown): CompiledDefinition | undefined {
  if (typeof definition !== "object" || definition === null) return undefined;
  return compiledDefinitions.get(definition);
}

const MAX_STRING_KEY_BYTES = 256;

/**
 * Validates a key for its kind and returns its string form (the address key): the string itself,
 * the decimal integer, or `""` for unkeyed actors. Throws INVALID_ARGUMENT naming `field`.
 */
export function normalizeKey(kind: KeyKind, key: unknown, type: string, field = "key"): string {
  switch (kind) {
    case "string":
      if (typeof key !== "string" || key.length === 0) {
        throw invalidArgument(
          field,
          `${type} is keyed by a non-empty string, got ${describe(key)}`,
        );
      }
      if (key.length > MAX_STRING_KEY_BYTES / 3 && Buffer.byteLength(key) > MAX_STRING_KEY_BYTES) {
        throw invalidArgument(
          field,
          `${type} keys are at most ${MAX_STRING_KEY_BYTES} UTF-8 bytes`,
        );
      }
      return key;
    case "integer":
      if (typeof key !== "number" || !Number.isSafeInteger(key)) {
        throw invalidArgument(field, `${type} is keyed by a safe integer, got ${describe(key)}`);
      }
      return String(key);
    default:
      if (key !== undefined && key !== null) {
        throw invalidArgument(field, `${type} has no key, got ${describe(key)}`);
      }
      return "";
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "undefined";
  if (typeof value === "bigint") return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
