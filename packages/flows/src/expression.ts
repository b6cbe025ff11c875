import { Environment } from "@marcbachmann/cel-js";
import { invalidArgument } from "@troupe/core";

/** A compiled CEL expression over Inngest's variables (`event`, `async`). */
export type CompiledExpression = (variables: Record<string, unknown>) => unknown;

const environment = new Environment({
  unlistedVariablesAreDyn: true,
  homogeneousAggregateLiterals: false,
});
const cache = new Map<string, CompiledExpression>();
const CACHE_LIMIT = 10_000;

/**
 * Parses a CEL expression once (cached by text). Throws INVALID_ARGUMENT naming `field` when the
 * expression does not parse, so bad definitions fail at registration, not at the first event.
 */
export function compileExpression(source: string, field: string): CompiledExpression {
  const cached = cache.get(source);
  if (cached) return cached;
  let compiled: CompiledExpression;
  try {
    const parsed = environment.parse(source);
    compiled = (variables) => parsed(variables);
  } catch (cause) {
    throw invalidArgument(
      field,
      `is not a valid CEL expression: ${cause instanceof Error ? cause.message.split("\n")[0] : String(cause)}`,
    );
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(source, compiled);
  return compiled;
}

/**
 * Evaluates a boolean condition. As in Inngest, an evaluation error (a missing field, a type
 * mismatch) counts as "no match" rather than failing the event.
 */
export function matches(source: string, variables: Record<string, unknown>): boolean {
  try {
    return compileExpression(source, "expression")(variables) === true;
  } catch {
    return false;
  }
}
