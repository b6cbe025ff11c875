// What crosses between the calling thread and a batch worker: a chunk of actors with the
// registry and the expected subsystem set, and per actor its values or its error.
import type { FailurePolicy } from "./aggregator.js";
import type { Subsystem } from "./subsystems.js";
import type { Actor, StatValues } from "./types.js";

/** One chunk of a batch, as a worker receives it. */
export interface WorkerChunk {
  /** The subsystems module (a file URL) the worker imports. */
  readonly module: string;
  /** Changes with every registry or subsystem change (epoch and fingerprint). */
  readonly registryKey: string;
  /**
   * The combiner and layer registries, `strict` and `defaultRule`, serialised with `node:v8` (which
   * keeps −0, unlike JSON); read once per key.
   */
  readonly registry: Uint8Array;
  /** The calling thread's subsystem set (see {@link subsystemSignature}). */
  readonly signature: string;
  readonly failurePolicy: FailurePolicy;
  readonly actors: readonly Actor[];
}

/** An actor's values, or the error its resolve failed with. */
export type WorkerOutcome =
  | (StatValues & { readonly failed?: readonly string[]; readonly error?: undefined })
  | {
      readonly error: {
        readonly name: string;
        readonly message: string;
        readonly code: string | undefined;
        readonly details: Readonly<Record<string, unknown>> | undefined;
      };
    };

/** A worker's answer: an outcome per actor, or its own subsystem set when it differs. */
export interface WorkerChunkResult {
  readonly mismatch?: string;
  readonly outcomes: readonly WorkerOutcome[];
}

/** The subsystem set as ids, priorities, stages and versions (what the L2 fingerprint holds). */
export function subsystemSignature(list: readonly Subsystem[]): string {
  return JSON.stringify(
    list.map((s) => [s.id, s.priority ?? 0, s.stage ?? "primary", s.version ?? 0]),
  );
}
