import { invalidArgument, type TroupeError } from "@troupe/core";
import { describeValue, statsInputError } from "./errors.js";
import type { Actor, Snapshot, StatValues, SubsystemOutput } from "./types.js";

/**
 * Whether a subsystem returned a thenable instead of an output. Its own function (not shared
 * with other checks) so the `then` lookup sees only output objects and stays a cheap,
 * few-shape property miss: shared with snapshots and promises it went megamorphic, ~5 % of a
 * resolve.
 */
export function isPendingOutput(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/** Our own pending results are native promises (from `async` functions). */
export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return value instanceof Promise;
}

/**
 * Checks the fields of `actor` a resolve relies on. The check is inlined into every resolve, so
 * it stays small: naming the problem is {@link actorError}'s job.
 */
export function validateActor(actor: Actor): void {
  if (
    typeof actor !== "object" ||
    actor === null ||
    typeof actor.id !== "string" ||
    actor.id === "" ||
    !Number.isSafeInteger(actor.version) ||
    actor.version < 0 ||
    !Array.isArray(actor.subsystems)
  ) {
    throw actorError(actor);
  }
}

/** The error naming what is wrong with an actor that failed {@link validateActor}. */
export function actorError(actor: Actor): TroupeError {
  if (typeof actor !== "object" || actor === null) {
    return invalidArgument("actor", "expected an actor object");
  }
  if (typeof actor.id !== "string" || actor.id === "") {
    return invalidArgument(
      "actor.id",
      `expected a non-empty string, got ${describeValue(actor.id)}`,
    );
  }
  if (!Number.isSafeInteger(actor.version) || actor.version < 0) {
    return invalidArgument(
      "actor.version",
      `expected an integer ≥ 0, got ${describeValue(actor.version)}`,
    );
  }
  return invalidArgument("actor.subsystems", "expected an array of subsystem ids");
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A snapshot with its context packs and failed systems (out of line: most snapshots have none). */
export function withExtras(
  base: Snapshot,
  values: StatValues,
  failed: string[] | undefined,
): Snapshot {
  return {
    ...base,
    ...(values.context === undefined ? {} : { context: values.context }),
    ...(failed === undefined ? {} : { failed_systems: failed }),
  };
}

/** A post_primary output may not add primary contributions or cap a primary dimension. */
export function checkPostPrimary(
  output: unknown,
  primary: Readonly<Record<string, number>>,
  system: string,
): TroupeError | undefined {
  if (typeof output !== "object" || output === null) return undefined;
  const { primary: contributions, caps } = output as Partial<SubsystemOutput>;
  if (Array.isArray(contributions) && contributions.length > 0) {
    return statsInputError(
      { system, field: "primary" },
      "a post_primary subsystem receives the final primary values and may not contribute to them",
    );
  }
  if (!Array.isArray(caps)) return undefined;
  for (let i = 0; i < caps.length; i++) {
    const dimension = (caps[i] as { dimension?: unknown } | null)?.dimension;
    if (typeof dimension === "string" && Object.hasOwn(primary, dimension)) {
      return statsInputError(
        { system, dimension, field: `caps[${i}].dimension` },
        "a post_primary subsystem may not cap a primary dimension it has already seen",
      );
    }
  }
  return undefined;
}
