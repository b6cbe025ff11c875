import { parseWith } from "@troupe/core";
import { z } from "zod";
import type { FlowEvent } from "../event.js";
import { compileExpression } from "../expression.js";
import { checkExpression, expressionInput } from "./parse-option.js";

/** The largest priority factor, in seconds either way (Inngest's documented range). */
export const MAX_PRIORITY_SECONDS = 600;

/** `priority` as users write it: `run` is CEL over `event` returning seconds. */
export const prioritySchema = z.strictObject({ run: expressionInput.optional() });

/** `priority` as `FunctionConfig` takes it. */
export type PriorityOption = z.input<typeof prioritySchema>;

/** `priority` in a function definition. */
export interface PriorityDefinition {
  readonly run?: string;
}

/** Validates `priority`; errors name `field.run`. */
export function parsePriority(input: unknown, field: string): PriorityDefinition | undefined {
  if (input === undefined) return undefined;
  const parsed = parseWith(prioritySchema, input, field);
  return parsed.run === undefined ? {} : { run: checkExpression(parsed.run, `${field}.run`) };
}

/**
 * A run's priority factor in whole seconds, clamped to [-600, 600]. An expression that fails or
 * returns something other than a number counts as 0, so a bad event is never rejected for it.
 */
export function priorityFactor(config: PriorityDefinition | undefined, event: FlowEvent): number {
  if (config?.run === undefined) return 0;
  let value: unknown;
  try {
    value = compileExpression(config.run, "priority.run")({ event });
  } catch {
    return 0;
  }
  const seconds = typeof value === "bigint" ? Number(value) : value;
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return 0;
  return Math.max(-MAX_PRIORITY_SECONDS, Math.min(MAX_PRIORITY_SECONDS, Math.trunc(seconds)));
}

/**
 * When a run's first item becomes claimable. Every Troupe Queue claims due items highest
 * `priority` field first, then by earliest `availableAt`; the engine leaves the field at 0 and
 * orders by time, so a factor of `s` seconds moves the run's start item `s` seconds earlier (it
 * is claimed before items that became due up to `s` seconds before it) and a negative factor
 * delays it by that much, as Inngest does. Only the start is shifted: a started run's later
 * steps, sleeps and retries keep their own times (shifting a sleep would wake it early).
 */
export function priorityStartAt(createdAt: number, factorSeconds: number): number {
  return Math.max(0, createdAt - factorSeconds * 1000);
}
