import { TroupeError } from "@troupe/core";
import type { Subsystem, SubsystemInput } from "./subsystems.js";
import type {
  Actor,
  Bucket,
  CapContribution,
  CapKind,
  CapMode,
  Contribution,
  ModifierPack,
  StatsWriter,
  SubsystemOutput,
} from "./types.js";

/** The error of a writer used after its subsystem's `emit` returned. */
export function closedWriter(): TroupeError {
  return new TroupeError(
    "CLOSED",
    "the stats writer is closed: a subsystem's emit must write before it returns (emit is synchronous)",
  );
}

/**
 * A {@link StatsWriter} that records what an emitting subsystem writes as the
 * {@link SubsystemOutput} a `contribute` would have returned: the same contributions in the same
 * order, each with the subsystem's id as its `system`. Nothing is checked here; the fold checks
 * the output (rule R0) and names any problem with the same field a bad `emit` call gets.
 */
export class OutputRecorder implements StatsWriter {
  private readonly primaryList: Contribution[] = [];
  private readonly derivedList: Contribution[] = [];
  private readonly capList: CapContribution[] = [];
  private contexts: Record<string, ModifierPack> | undefined;
  private closed = false;

  constructor(private readonly system: string) {}

  primary(dimension: string, bucket: Bucket, value: number, priority?: number): void {
    this.open();
    this.primaryList.push(this.contribution(dimension, bucket, value, priority));
  }

  derived(dimension: string, bucket: Bucket, value: number, priority?: number): void {
    this.open();
    this.derivedList.push(this.contribution(dimension, bucket, value, priority));
  }

  cap(
    dimension: string,
    mode: CapMode,
    kind: CapKind,
    value: number,
    scope: string,
    realm?: string,
    priority?: number,
  ): void {
    this.open();
    const cap: { -readonly [K in keyof CapContribution]: CapContribution[K] } = {
      system: this.system,
      dimension,
      mode,
      kind,
      value,
      scope,
    };
    if (realm !== undefined) cap.realm = realm;
    if (priority !== undefined) cap.priority = priority;
    this.capList.push(cap);
  }

  context(key: string, pack: ModifierPack): void {
    this.open();
    this.contexts ??= {};
    const earlier = this.contexts[key];
    // Two packs for one key in one emit merge as packs of two subsystems do (rule R9).
    this.contexts[key] =
      earlier === undefined || typeof pack !== "object" || pack === null
        ? pack
        : {
            additive_percent: (earlier.additive_percent ?? 0) + (pack.additive_percent ?? 0),
            multipliers: [...(earlier.multipliers ?? []), ...(pack.multipliers ?? [])],
            post_add: (earlier.post_add ?? 0) + (pack.post_add ?? 0),
          };
  }

  /** Closes the writer and returns the output it recorded. */
  finish(): SubsystemOutput {
    this.closed = true;
    const output = {
      primary: this.primaryList,
      derived: this.derivedList,
      caps: this.capList,
      meta: { system: this.system },
    };
    return this.contexts === undefined ? output : { ...output, context: this.contexts };
  }

  private open(): void {
    if (this.closed) throw closedWriter();
  }

  private contribution(
    dimension: string,
    bucket: Bucket,
    value: number,
    priority: number | undefined,
  ): Contribution {
    const system = this.system;
    return priority === undefined
      ? { dimension, bucket, value, system }
      : { dimension, bucket, value, system, priority };
  }
}

/**
 * Runs an emitting subsystem's `emit` against a recorder and returns what it wrote as an output
 * (the slow paths: explain, `post_primary` stages, asynchronous neighbours).
 */
export function recordEmit(
  system: string,
  emit: (writer: StatsWriter) => unknown,
): SubsystemOutput {
  const recorder = new OutputRecorder(system);
  const returned = emit(recorder);
  if (isThenable(returned)) throw asyncEmit(system);
  return recorder.finish();
}

/** An `emit` that returned a promise: emit is synchronous by contract. */
export function asyncEmit(system: string): TroupeError {
  return new TroupeError(
    "INVALID_ARGUMENT",
    `subsystem ${JSON.stringify(system)}: emit returned a promise; emit must write synchronously (use contribute for asynchronous work)`,
    { details: { system, field: "emit" } },
  );
}

/** Whether `value` is a promise-like (has a `then` function). */
export function isThenable(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * Calls `subsystem.emit(actor, writer, input)` through `Function.prototype.call`, which
 * keeps V8 from inlining the subsystem's `emit` into the aggregator's loop: `emit` is then
 * optimised on its own, and its writer calls get the whole inlining budget of a function instead
 * of what the loop left of its own (a writer call not inlined boxes its value, a heap allocation
 * per contribution). With many different `emit` functions the call site is megamorphic and not
 * inlined anyway; this makes subsystems sharing one `emit` (closures of one factory) run alike.
 */
export function callEmit(
  subsystem: Subsystem,
  actor: Actor,
  writer: StatsWriter,
  input: SubsystemInput,
): unknown {
  const emit = subsystem.emit as NonNullable<Subsystem["emit"]>;
  return emit.call(subsystem, actor, writer, input);
}
