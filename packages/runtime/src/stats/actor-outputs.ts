import { invalidArgument, parseWith } from "@troupe/core";
import { type SubsystemOutput, subsystemOutputSchema } from "@troupe/stats";
import { z } from "zod";

/** The outputs one actor holds, by subsystem id (what the Store keeps per actor). */
export type ActorOutputs = Readonly<Record<string, SubsystemOutput>>;

/** One change to an actor's outputs. */
export type OutputChange =
  | { readonly type: "put"; readonly system: string; readonly output: SubsystemOutput }
  | { readonly type: "delete"; readonly system: string };

/** A `PUT …/subsystems/:system` body: an output without `meta` (the path names the system). */
export const outputBodySchema = z.strictObject({
  primary: z.array(z.unknown()).default([]),
  derived: z.array(z.unknown()).default([]),
  caps: z.array(z.unknown()).default([]),
  context: z.record(z.string(), z.unknown()).optional(),
});

/** Entries may leave out `system`: the path names it. */
function withSystem(entries: readonly unknown[], system: string): unknown[] {
  return entries.map((entry) =>
    typeof entry === "object" && entry !== null && !("system" in entry)
      ? { ...entry, system }
      : entry,
  );
}

/**
 * Checks a request body as `system`'s output (rule R0's shape: dimensions, buckets, values) and
 * stamps `meta.system` (and `system` on entries that leave it out); errors name the field under
 * `field` (`body.primary[0].value`).
 */
export function parseOutputBody(body: unknown, system: string, field: string): SubsystemOutput {
  const shaped = parseWith(outputBodySchema, body, field, {
    unknownKey: "unknown field",
    pathStyle: "brackets",
  });
  return parseWith(
    subsystemOutputSchema,
    {
      primary: withSystem(shaped.primary, system),
      derived: withSystem(shaped.derived, system),
      caps: withSystem(shaped.caps, system),
      ...(shaped.context === undefined ? {} : { context: shaped.context }),
      meta: { system },
    },
    field,
    { pathStyle: "brackets" },
  );
}

/** Checks that `system` is one the service was configured with. */
export function assertKnownSystem(system: string, known: ReadonlySet<string>, field: string): void {
  if (!known.has(system)) {
    throw invalidArgument(
      field,
      `unknown subsystem ${JSON.stringify(system)} (configured: ${[...known].join(", ")})`,
    );
  }
}

/** The outputs after `changes`, in order; the input is not modified. Pure. */
export function applyOutputChanges(
  current: ActorOutputs,
  changes: readonly OutputChange[],
): ActorOutputs {
  const next: Record<string, SubsystemOutput> = { ...current };
  for (const change of changes) {
    if (change.type === "put") next[change.system] = change.output;
    else delete next[change.system];
  }
  return next;
}
