import { parseWith } from "@troupe/core";
import { z } from "zod";
import { checkExpression, expressionInput } from "./parse-option.js";

/** `singleton` as users write it. */
export const singletonSchema = z.strictObject({
  key: expressionInput.optional(),
  mode: z.enum(["skip", "cancel"]),
});

/** `singleton` as `FunctionConfig` takes it. */
export type SingletonOption = z.input<typeof singletonSchema>;

/** `singleton` in a function definition. */
export interface SingletonDefinition {
  readonly key?: string;
  readonly mode: "skip" | "cancel";
}

/** Validates `singleton`; errors name `field.mode`, `field.key`. */
export function parseSingleton(input: unknown, field: string): SingletonDefinition | undefined {
  if (input === undefined) return undefined;
  const parsed = parseWith(singletonSchema, input, field);
  return parsed.key === undefined
    ? { mode: parsed.mode }
    : { mode: parsed.mode, key: checkExpression(parsed.key, `${field}.key`) };
}

/**
 * The run that holds a singleton key. Written in the same commit as the run, cleared when the run
 * reaches a terminal state. A crash between the run's end and the clearing leaves a record that
 * names a finished run: admission loads the run and treats a finished one as absent, so a stale
 * record never blocks a key.
 */
export interface SingletonState {
  /** The key's value. */
  readonly key: string;
  /** The run holding it. */
  readonly runId: string;
}
