import { invalidArgument, TroupeError } from "@troupe/core";
import { createFunction, type FunctionConfig, type FunctionDefinition } from "@troupe/flows";
import type { SdkFunction } from "./register-schema.js";

const DEFAULT_RETRIES = 4;

/**
 * Flow-control options of the SDK, handed to the flows engine as they are (the shapes are the
 * same). One the engine does not take is refused at sync time with an error naming it: running
 * the function without the limit would silently change what the user asked for.
 */
const FLOW_CONTROL_OPTIONS = [
  "concurrency",
  "throttle",
  "rateLimit",
  "debounce",
  "batchEvents",
  "priority",
  "idempotency",
  "singleton",
] as const;

/** Retries of a function: the SDK's `steps.step.retries.attempts` is a retry count. */
export function retriesOf(fn: SdkFunction): number {
  const step = fn.steps.step ?? Object.values(fn.steps)[0];
  return step?.retries?.attempts ?? DEFAULT_RETRIES;
}

/** The URL the engine calls for a function: its `steps.step.runtime.url`. */
export function callUrlOf(fn: SdkFunction, field: string): string {
  const step = fn.steps.step ?? Object.values(fn.steps)[0];
  if (step?.runtime.type !== "http" || step.runtime.url === undefined) {
    throw invalidArgument(
      `${field}.steps.step.runtime`,
      `expected { type: "http", url } (got type ${JSON.stringify(step?.runtime.type)}; Connect workers are not supported)`,
    );
  }
  return step.runtime.url;
}

/**
 * Turns an SDK function config into a flows {@link FunctionDefinition}, validated by the engine
 * itself (`createFunction`: CEL expressions, cron, durations, flow-control options). Throws
 * INVALID_ARGUMENT naming the field for anything Troupe cannot honour.
 */
export function toDefinition(fn: SdkFunction, field: string): FunctionDefinition {
  callUrlOf(fn, field);
  const triggers = fn.triggers.map((trigger) => {
    if ("event" in trigger && typeof trigger.event === "string") {
      const expression =
        "expression" in trigger && typeof trigger.expression === "string" ? trigger.expression : "";
      return expression === ""
        ? { event: trigger.event }
        : { event: trigger.event, if: expression };
    }
    const cron = trigger as { cron: unknown; jitter?: unknown };
    return typeof cron.jitter === "string" && cron.jitter !== ""
      ? { cron: String(cron.cron), jitter: cron.jitter }
      : { cron: String(cron.cron) };
  });
  const cancelOn = (fn.cancel ?? []).map((cancel) => ({
    event: cancel.event,
    ...(cancel.if ? { if: cancel.if } : {}),
    ...(cancel.timeout ? { timeout: cancel.timeout } : {}),
  }));
  const flowControl: Record<string, unknown> = {};
  for (const option of FLOW_CONTROL_OPTIONS) {
    if (fn[option] !== undefined) flowControl[option] = fn[option];
  }
  const config = {
    id: fn.id,
    ...(fn.name ? { name: fn.name } : {}),
    triggers,
    retries: retriesOf(fn),
    cancelOn,
    ...(fn.timeouts?.start || fn.timeouts?.finish
      ? {
          timeouts: {
            ...(fn.timeouts.start ? { start: fn.timeouts.start } : {}),
            ...(fn.timeouts.finish ? { finish: fn.timeouts.finish } : {}),
          },
        }
      : {}),
    ...flowControl,
  } as FunctionConfig;
  let definition: FunctionDefinition;
  try {
    definition = createFunction(config, () => null).definition;
  } catch (error) {
    if (TroupeError.isInstance(error)) {
      throw invalidArgument(field, error.message, { code: error.code, ...error.details });
    }
    throw error;
  }
  for (const option of Object.keys(flowControl)) {
    if ((definition as unknown as Record<string, unknown>)[option] === undefined) {
      throw invalidArgument(
        `${field}.${option}`,
        `function ${JSON.stringify(fn.id)} uses "${option}", which this Troupe engine does not support yet; remove the option`,
        { code: "INNGEST_UNSUPPORTED_OPTION", option },
      );
    }
  }
  return definition;
}
