import { invalidArgument } from "@troupe/core";
import type { Actor, StatsWriter, SubsystemOutput, SubsystemStage } from "./types.js";
import { recordEmit } from "./writer.js";

/** What a subsystem receives besides the actor. */
export interface SubsystemInput {
  /** For `post_primary` subsystems: the actor's final primary values. Empty otherwise. */
  readonly primary: Readonly<Record<string, number>>;
}

/** A plugin that contributes stats for actors (race, items, buffs, talents, realms, …). */
export interface Subsystem {
  /** Unique id (`items`, `talent`); actors list the ids that apply to them. */
  readonly id: string;
  /** Run order: higher first, ties by id ascending (rule R1). Integer ≥ 0, default 0. */
  readonly priority?: number;
  /** `post_primary` subsystems run after the primary values are known and receive them (R8). */
  readonly stage?: SubsystemStage;
  /** Bump when the subsystem's logic changes: it is part of the persistent cache fingerprint. */
  readonly version?: number;
  /**
   * Computes this subsystem's contributions for `actor` as an output object. May be async.
   * A subsystem has either `contribute` or `emit`.
   */
  contribute?(actor: Actor, input: SubsystemInput): SubsystemOutput | Promise<SubsystemOutput>;
  /**
   * Writes this subsystem's contributions for `actor` into `writer`, synchronously, without
   * building output objects: the fast form for subsystems that compute their values on every
   * resolve (buffs, auras, anything read from the actor). Checked as an output is (rule R0).
   */
  emit?(actor: Actor, writer: StatsWriter, input: SubsystemInput): void;
}

/** A registered subsystem with its run position. */
export interface RegisteredSubsystem {
  /** The subsystem. */
  readonly subsystem: Subsystem;
  /** Position in run order (0 runs first). */
  readonly order: number;
  /** Whether it runs after primary values are known. */
  readonly postPrimary: boolean;
  /** Whether it writes through `emit` rather than returning outputs from `contribute`. */
  readonly emits: boolean;
  /** Its output for `actor`: what `contribute` returns, or what `emit` writes, as an output. */
  output(actor: Actor, input: SubsystemInput): SubsystemOutput | Promise<SubsystemOutput>;
}

function registered(subsystem: Subsystem, order: number): RegisteredSubsystem {
  const emits = typeof subsystem.emit === "function";
  return {
    subsystem,
    order,
    postPrimary: subsystem.stage === "post_primary",
    emits,
    output: emits
      ? (actor, input) =>
          recordEmit(subsystem.id, (writer) =>
            (subsystem as Required<Subsystem>).emit(actor, writer, input),
          )
      : (actor, input) => (subsystem as Required<Subsystem>).contribute(actor, input),
  };
}

/**
 * The plugin registry: subsystems by id, kept in run order (priority desc, id asc). Every change
 * notifies listeners (the aggregator starts a new cache epoch).
 */
export interface SubsystemRegistry {
  /** Adds a subsystem; throws INVALID_ARGUMENT for a bad definition or a duplicate id. */
  register(subsystem: Subsystem): void;
  /** Removes a subsystem; returns whether it was registered. */
  unregister(id: string): boolean;
  /** The registered subsystem with `id`. */
  get(id: string): RegisteredSubsystem | undefined;
  /** All subsystems in run order. */
  list(): readonly Subsystem[];
  /** Calls `listener` after every change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

function validateSubsystem(subsystem: Subsystem): void {
  if (typeof subsystem !== "object" || subsystem === null) {
    throw invalidArgument("subsystem", "expected an object with id and contribute (or emit)");
  }
  if (typeof subsystem.id !== "string" || subsystem.id === "") {
    throw invalidArgument("subsystem.id", "expected a non-empty string");
  }
  const at = `subsystem ${JSON.stringify(subsystem.id)}`;
  if (
    subsystem.priority !== undefined &&
    !(Number.isSafeInteger(subsystem.priority) && subsystem.priority >= 0)
  ) {
    throw invalidArgument(`${at}.priority`, `expected an integer ≥ 0, got ${subsystem.priority}`);
  }
  if (
    subsystem.stage !== undefined &&
    subsystem.stage !== "primary" &&
    subsystem.stage !== "post_primary"
  ) {
    throw invalidArgument(
      `${at}.stage`,
      `expected "primary" or "post_primary", got ${String(subsystem.stage)}`,
    );
  }
  if (subsystem.version !== undefined && !Number.isSafeInteger(subsystem.version)) {
    throw invalidArgument(`${at}.version`, `expected an integer, got ${subsystem.version}`);
  }
  const contributes = typeof subsystem.contribute === "function";
  const emits = typeof subsystem.emit === "function";
  if (subsystem.contribute !== undefined && !contributes) {
    throw invalidArgument(`${at}.contribute`, "expected a function");
  }
  if (subsystem.emit !== undefined && !emits) {
    throw invalidArgument(`${at}.emit`, "expected a function");
  }
  if (contributes === emits) {
    throw invalidArgument(
      `${at}.contribute`,
      contributes
        ? "a subsystem has either contribute or emit, not both"
        : "expected a contribute or an emit function",
    );
  }
}

/** Creates a {@link SubsystemRegistry}, optionally with initial subsystems. */
export function createSubsystemRegistry(initial: readonly Subsystem[] = []): SubsystemRegistry {
  const byId = new Map<string, RegisteredSubsystem>();
  let ordered: Subsystem[] = [];
  const listeners = new Set<() => void>();
  // Run order changes only on registration, so it is computed here and never per resolve.
  const reorder = () => {
    ordered = [...byId.values()]
      .map((entry) => entry.subsystem)
      .sort((a, b) => {
        const priority = (b.priority ?? 0) - (a.priority ?? 0);
        if (priority !== 0) return priority;
        return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
      });
    ordered.forEach((subsystem, order) => {
      byId.set(subsystem.id, registered(subsystem, order));
    });
    for (const listener of listeners) listener();
  };
  const add = (subsystem: Subsystem) => {
    validateSubsystem(subsystem);
    if (byId.has(subsystem.id)) {
      throw invalidArgument(
        "subsystem.id",
        `a subsystem ${JSON.stringify(subsystem.id)} is already registered`,
      );
    }
    byId.set(subsystem.id, registered(subsystem, 0));
  };
  for (const subsystem of initial) add(subsystem);
  reorder();
  return {
    register(subsystem) {
      add(subsystem);
      reorder();
    },
    unregister(id) {
      if (!byId.delete(id)) return false;
      reorder();
      return true;
    },
    get: (id) => byId.get(id),
    list: () => ordered,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
