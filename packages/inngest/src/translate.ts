import { invalidArgument } from "@troupe/core";
import type { FunctionDefinition } from "@troupe/flows";
import { parseInngestDuration } from "./durations.js";
import type { SdkFunction } from "./register-schema.js";

const ONE_YEAR_MS = 366 * 86_400_000;
const DEFAULT_RETRIES = 4;

/**
 * Flow-control options of the SDK that the flows engine does not accept yet. A function using
 * one is refused at sync time with an error naming it: running it without the limit would
 * silently change what the user asked for.
 */
const UNSUPPORTED_OPTIONS = [
  "concurrency",
  "throttle",
  "rateLimit",
  "debounce",
  "batchEvents",
  "priority",
  "idempotency",
  "singleton",
] as const;

const CRON_FIELDS = /^\S+(\s+\S+){4,5}$/;

/** Splits an Inngest cron string (`"TZ=Europe/Paris 0 9 * * 1"`) into pattern and zone. */
function splitCron(expression: string, field: string): { cron: string; timezone: string } {
  let pattern = expression.trim();
  let timezone = "UTC";
  const match = /^(?:CRON_)?TZ=(\S+)\s+(.*)$/.exec(pattern);
  if (match) {
    timezone = match[1] ?? "UTC";
    pattern = (match[2] ?? "").trim();
  }
  if (!CRON_FIELDS.test(pattern)) {
    throw invalidArgument(
      field,
      `expected a cron expression of 5 or 6 fields, got ${JSON.stringify(expression)}`,
    );
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw invalidArgument(field, `unknown time zone ${JSON.stringify(timezone)}`);
  }
  return { cron: pattern, timezone };
}

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
 * Turns an SDK function config into a flows {@link FunctionDefinition}. Throws INVALID_ARGUMENT
 * naming the field for anything Troupe cannot honour.
 */
export function toDefinition(fn: SdkFunction, field: string): FunctionDefinition {
  for (const option of UNSUPPORTED_OPTIONS) {
    if (fn[option] !== undefined) {
      throw invalidArgument(
        `${field}.${option}`,
        `function ${JSON.stringify(fn.id)} uses "${option}", which Troupe does not support yet; remove the option`,
        { code: "INNGEST_UNSUPPORTED_OPTION", option },
      );
    }
  }
  callUrlOf(fn, field);
  const triggers = fn.triggers.map((trigger, index) => {
    const at = `${field}.triggers[${index}]`;
    if ("event" in trigger && typeof trigger.event === "string") {
      const expression =
        "expression" in trigger && typeof trigger.expression === "string"
          ? trigger.expression
          : undefined;
      return expression === undefined || expression === ""
        ? { event: trigger.event }
        : { event: trigger.event, if: expression };
    }
    if ("cron" in trigger && typeof trigger.cron === "string")
      return splitCron(trigger.cron, `${at}.cron`);
    throw invalidArgument(at, "expected { event, expression? } or { cron }");
  });
  const cancelOn = (fn.cancel ?? []).map((cancel, index) => {
    const timeoutMs =
      cancel.timeout === undefined || cancel.timeout === ""
        ? ONE_YEAR_MS
        : parseInngestDuration(cancel.timeout, `${field}.cancel[${index}].timeout`);
    return cancel.if === undefined || cancel.if === ""
      ? { event: cancel.event, timeoutMs }
      : { event: cancel.event, if: cancel.if, timeoutMs };
  });
  const start = fn.timeouts?.start;
  const finish = fn.timeouts?.finish;
  return {
    id: fn.id,
    name: fn.name ?? fn.id,
    triggers,
    retries: retriesOf(fn),
    cancelOn,
    ...(start ? { startTimeoutMs: parseInngestDuration(start, `${field}.timeouts.start`) } : {}),
    ...(finish
      ? { finishTimeoutMs: parseInngestDuration(finish, `${field}.timeouts.finish`) }
      : {}),
  };
}
