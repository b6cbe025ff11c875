import { type Duration, invalidArgument, parseDuration, parseWith } from "@troupe/core";
import { Cron } from "croner";
import { z } from "zod";
import type { EventData, FlowEvent } from "./event.js";
import { compileExpression } from "./expression.js";
import {
  type BatchEventsDefinition,
  type BatchEventsOption,
  parseBatchEvents,
} from "./flow-control/batch.js";
import {
  type ConcurrencyDefinition,
  type ConcurrencyOption,
  parseConcurrency,
} from "./flow-control/concurrency.js";
import {
  type DebounceDefinition,
  type DebounceOption,
  parseDebounce,
} from "./flow-control/debounce.js";
import { parseIdempotency } from "./flow-control/idempotency.js";
import {
  type PriorityDefinition,
  type PriorityOption,
  parsePriority,
} from "./flow-control/priority.js";
import {
  parseRateLimit,
  type RateLimitDefinition,
  type RateLimitOption,
} from "./flow-control/rate-limit.js";
import {
  parseSingleton,
  type SingletonDefinition,
  type SingletonOption,
} from "./flow-control/singleton.js";
import {
  parseThrottle,
  type ThrottleDefinition,
  type ThrottleOption,
} from "./flow-control/throttle.js";
import type { StepTools } from "./step-tools.js";

/** An event trigger: runs the function for each event named `event` for which `if` holds. */
export interface EventTrigger {
  /** The event name. */
  readonly event: string;
  /** Optional CEL condition over `event`, e.g. `"event.data.amount > 100"`. */
  readonly if?: string;
}

/**
 * A cron trigger: standard 5-field (or 6-field, with seconds) cron. The time zone comes from
 * `timezone` or an Inngest-style `"TZ=Europe/Paris "` prefix; default UTC. Each tick fires
 * exactly once across all processes sharing the store and queue.
 */
export interface CronTrigger {
  readonly cron: string;
  /** IANA time zone, e.g. `"Europe/Paris"`. */
  readonly timezone?: string;
  /**
   * Delays each tick by a random time in `[0, jitter)`, capped at half the gap to the next tick,
   * so many schedules on the same minute do not all start at once (e.g. `"30s"`).
   */
  readonly jitter?: Duration;
}

/** What starts a function. */
export type Trigger = EventTrigger | CronTrigger;

/** Cancels a run when a matching event arrives while it is unfinished. */
export interface CancelOn {
  /** The cancelling event's name. */
  readonly event: string;
  /** Shorthand: cancel when `event.<match>` equals `async.<match>` (e.g. `"data.orderId"`). */
  readonly match?: string;
  /** CEL condition over `event` (the run's trigger) and `async` (the cancelling event). */
  readonly if?: string;
  /** Only events within this long after the run started cancel it. Default: 1 year. */
  readonly timeout?: Duration;
}

/** Configuration of a function; `TData` is the type of its triggering events' data. */
export interface FunctionConfig<TData extends EventData = EventData> {
  /** Unique id within the engine: letters, digits and `-_.:/`. */
  readonly id: string;
  /** A display name. Default: the id. */
  readonly name?: string;
  /** What starts the function. Empty: it can only be invoked (`step.invoke`). */
  readonly triggers?: readonly Trigger[];
  /**
   * A zod schema for the triggering event's `data`: it types `event.data` in the handler, and a
   * run whose event does not match fails at once (non-retriable) with an error naming the field.
   */
  readonly schema?: z.ZodType<TData>;
  /** Retries per step and for the handler, 0..20 (attempts = retries + 1). Default 4. */
  readonly retries?: number;
  /** Events that cancel an unfinished run. */
  readonly cancelOn?: readonly CancelOn[];
  /**
   * `start`: a run not started within this long after it was triggered is cancelled.
   * `finish`: a run not finished within this long after it started is cancelled.
   */
  readonly timeouts?: { readonly start?: Duration; readonly finish?: Duration };
  /**
   * Limits the steps executing at once: a number, `{ limit, key?, scope? }` or up to two of them.
   * `key` is CEL over `event`; `scope` `"fn"` (default) counts per function, `"env"`/`"account"`
   * shares the limit with every function using the same key value. Sleeping or waiting runs hold
   * no slot.
   */
  readonly concurrency?: ConcurrencyOption;
  /**
   * Starts at most `limit` runs per `period` (1 s..7 d), plus `burst` at once, per value of the
   * CEL `key`; excess runs are queued until their turn (GCRA), never dropped.
   */
  readonly throttle?: ThrottleOption;
  /** `run`: CEL over `event` returning seconds (−600..600) by which the run jumps the queue. */
  readonly priority?: PriorityOption;
  /**
   * Starts at most `limit` runs per `period` (1 s..24 h) per value of the CEL `key`; excess events
   * are skipped for this function (GCRA with a burst of `limit`; see the README).
   */
  readonly rateLimit?: RateLimitOption;
  /**
   * Per value of `key`, runs once with the latest event after no new event arrived for `period`
   * (1 s..7 d), or `timeout` after the first event at the latest.
   */
  readonly debounce?: DebounceOption;
  /**
   * Collects events matching `if` per value of `key` and runs once with `events[]` when
   * `maxSize` (2..1000) arrived or `timeout` (1 s..5 min) after the first.
   */
  readonly batchEvents?: BatchEventsOption;
  /** A CEL key over `event`: one run per key value per 24 h; repeats are skipped. */
  readonly idempotency?: string;
  /** At most one unfinished run per value of `key`: skip new runs, or cancel the running one. */
  readonly singleton?: SingletonOption;
}

/** What a handler receives. */
export interface FlowContext<TData extends EventData = EventData> {
  /** The triggering event. */
  readonly event: FlowEvent<TData>;
  /** All triggering events (one, unless batched). */
  readonly events: readonly FlowEvent<TData>[];
  /** The run's id. */
  readonly runId: string;
  /** The attempt of this execution, zero-based. */
  readonly attempt: number;
  /** The step tools: every side effect belongs in a step. */
  readonly step: StepTools;
}

/** What an onFailure handler receives: the failed run's error and triggering event. */
export interface FailureContext extends FlowContext<EventData> {
  /** The error the run failed with. */
  readonly error: { readonly name: string; readonly message: string; readonly stack?: string };
  /** The id of the run that failed. */
  readonly failedRunId: string;
}

/** A function's code. It is run from the top many times: memoized steps return at once. */
export type FlowHandler<TOutput, TData extends EventData = EventData> = (
  context: FlowContext<TData>,
) => Promise<TOutput> | TOutput;

/** The serialisable definition the engine works from (drivers other than in-process produce it too). */
export interface FunctionDefinition {
  readonly id: string;
  readonly name: string;
  readonly triggers: readonly (
    | { readonly event: string; readonly if?: string }
    | { readonly cron: string; readonly timezone: string; readonly jitterMs?: number }
  )[];
  readonly retries: number;
  readonly cancelOn: readonly {
    readonly event: string;
    readonly if?: string;
    readonly timeoutMs: number;
  }[];
  readonly startTimeoutMs?: number;
  readonly finishTimeoutMs?: number;
  readonly concurrency?: readonly ConcurrencyDefinition[];
  readonly throttle?: ThrottleDefinition;
  readonly priority?: PriorityDefinition;
  readonly rateLimit?: RateLimitDefinition;
  readonly debounce?: DebounceDefinition;
  readonly batchEvents?: BatchEventsDefinition;
  readonly idempotency?: string;
  readonly singleton?: SingletonDefinition;
}

/** A function made by {@link createFunction}, ready to hand to `createFlows`. */
export interface FlowFunction<TOutput = unknown, TData extends EventData = EventData> {
  /** The function's id. */
  readonly id: string;
  /** The validated definition. */
  readonly definition: FunctionDefinition;
  /** The handler (method syntax, so functions of any event data type fit one list). */
  handler(context: FlowContext<TData>): Promise<TOutput> | TOutput;
  /** Validates (and types) the triggering event's data. */
  readonly schema?: z.ZodType<TData>;
  /** The failure handler, run as its own function `<id>-failure` (Inngest semantics). */
  readonly onFailure?: (context: FailureContext) => Promise<unknown> | unknown;
}

/** Events the engine emits itself (Inngest names). */
export const INTERNAL_EVENTS = {
  failed: "inngest/function.failed",
  finished: "inngest/function.finished",
  cancelled: "inngest/function.cancelled",
  invoked: "inngest/function.invoked",
  cron: "inngest/scheduled.timer",
} as const;

const ONE_YEAR_MS = 366 * 86_400_000;

const configSchema = z.object({
  id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:/-]+$/, "expected letters, digits and . _ : / -"),
  name: z.string().min(1).max(256).optional(),
  triggers: z.array(z.unknown()).optional(),
  retries: z.number().int().min(0).max(20).optional(),
  cancelOn: z.array(z.unknown()).optional(),
  timeouts: z.object({ start: z.unknown().optional(), finish: z.unknown().optional() }).optional(),
  concurrency: z.unknown().optional(),
  throttle: z.unknown().optional(),
  priority: z.unknown().optional(),
  rateLimit: z.unknown().optional(),
  debounce: z.unknown().optional(),
  batchEvents: z.unknown().optional(),
  idempotency: z.unknown().optional(),
  singleton: z.unknown().optional(),
  schema: z.unknown().optional(),
});

const MAX_CRON_JITTER_MS = 7 * 86_400_000;

/** Splits an Inngest-style `"TZ=Zone pattern"` and checks the pattern with croner. */
export function parseCron(expression: string, timezone: string | undefined, field: string) {
  let pattern = expression.trim();
  let zone = timezone;
  const match = /^(?:CRON_)?TZ=(\S+)\s+(.*)$/.exec(pattern);
  if (match) {
    zone = zone ?? match[1];
    pattern = (match[2] ?? "").trim();
  }
  zone = zone ?? "UTC";
  try {
    const cron = new Cron(pattern, { timezone: zone, paused: true });
    return { pattern, timezone: zone, cron };
  } catch (cause) {
    throw invalidArgument(
      field,
      `is not a valid cron expression (${cause instanceof Error ? cause.message : String(cause)})`,
    );
  }
}

/** The next cron firing strictly after `after` (ms), or undefined if none. */
export function nextCronTick(pattern: string, timezone: string, after: number): number | undefined {
  const cron = new Cron(pattern, { timezone, paused: true });
  return cron.nextRun(new Date(after))?.getTime();
}

function normalise<TData extends EventData>(config: FunctionConfig<TData>): FunctionDefinition {
  parseWith(configSchema, config, "function");
  const at = `function ${JSON.stringify(config.id)}`;
  const triggers = (config.triggers ?? []).map((trigger, index) => {
    const field = `${at}.triggers[${index}]`;
    if (typeof trigger !== "object" || trigger === null)
      throw invalidArgument(field, "expected { event } or { cron }");
    if ("event" in trigger && typeof trigger.event === "string" && trigger.event !== "") {
      if (trigger.if !== undefined) {
        if (typeof trigger.if !== "string")
          throw invalidArgument(`${field}.if`, "expected a string");
        compileExpression(trigger.if, `${field}.if`);
        return { event: trigger.event, if: trigger.if };
      }
      return { event: trigger.event };
    }
    if ("cron" in trigger && typeof trigger.cron === "string") {
      const parsedCron = parseCron(trigger.cron, trigger.timezone, `${field}.cron`);
      const jitterMs =
        trigger.jitter === undefined ? 0 : parseDuration(trigger.jitter, `${field}.jitter`);
      if (jitterMs < 0 || jitterMs > MAX_CRON_JITTER_MS)
        throw invalidArgument(`${field}.jitter`, "must be between 0 and 7 days");
      return {
        cron: parsedCron.pattern,
        timezone: parsedCron.timezone,
        ...(jitterMs > 0 ? { jitterMs } : {}),
      };
    }
    throw invalidArgument(field, "expected { event: string, if? } or { cron: string, timezone? }");
  });
  const cancelOn = (config.cancelOn ?? []).map((cancel, index) => {
    const field = `${at}.cancelOn[${index}]`;
    if (typeof cancel?.event !== "string" || cancel.event === "")
      throw invalidArgument(`${field}.event`, "expected an event name");
    const condition =
      cancel.match !== undefined ? `event.${cancel.match} == async.${cancel.match}` : cancel.if;
    if (condition !== undefined) compileExpression(condition, `${field}.if`);
    const timeoutMs =
      cancel.timeout === undefined
        ? ONE_YEAR_MS
        : parseDuration(cancel.timeout, `${field}.timeout`);
    return condition === undefined
      ? { event: cancel.event, timeoutMs }
      : { event: cancel.event, if: condition, timeoutMs };
  });
  const admissionOptions = parseAdmissionOptions(config, at);
  const workerOptions = parseWorkerOptions(config, at);
  const start = config.timeouts?.start;
  const finish = config.timeouts?.finish;
  return {
    id: config.id,
    name: config.name ?? config.id,
    triggers,
    retries: config.retries ?? 4,
    cancelOn,
    ...(start === undefined
      ? {}
      : { startTimeoutMs: parseDuration(start, `${at}.timeouts.start`) }),
    ...(finish === undefined
      ? {}
      : { finishTimeoutMs: parseDuration(finish, `${at}.timeouts.finish`) }),
    ...admissionOptions,
    ...workerOptions,
  };
}

/** The execution flow-control options (concurrency, throttle, priority). */
function parseWorkerOptions(
  config: Pick<FunctionConfig, "concurrency" | "throttle" | "priority">,
  at: string,
) {
  const concurrency = parseConcurrency(config.concurrency, `${at}.concurrency`);
  const throttle = parseThrottle(config.throttle, `${at}.throttle`);
  const priority = parsePriority(config.priority, `${at}.priority`);
  return {
    ...(concurrency === undefined ? {} : { concurrency }),
    ...(throttle === undefined ? {} : { throttle }),
    ...(priority?.run === undefined ? {} : { priority }),
  };
}

/** The run-creation flow-control options (rate limit, debounce, batching, idempotency, singleton). */
function parseAdmissionOptions(
  config: Pick<
    FunctionConfig,
    "rateLimit" | "debounce" | "batchEvents" | "idempotency" | "singleton"
  >,
  at: string,
) {
  const rateLimit = parseRateLimit(config.rateLimit, `${at}.rateLimit`);
  const debounce = parseDebounce(config.debounce, `${at}.debounce`);
  const batchEvents = parseBatchEvents(config.batchEvents, `${at}.batchEvents`);
  const idempotency = parseIdempotency(config.idempotency, `${at}.idempotency`);
  const singleton = parseSingleton(config.singleton, `${at}.singleton`);
  if (debounce && batchEvents) {
    // Both decide when a run starts and with which events; combined they have no clear meaning.
    throw invalidArgument(`${at}.debounce`, "cannot be combined with batchEvents");
  }
  return {
    ...(rateLimit === undefined ? {} : { rateLimit }),
    ...(debounce === undefined ? {} : { debounce }),
    ...(batchEvents === undefined ? {} : { batchEvents }),
    ...(idempotency === undefined ? {} : { idempotency }),
    ...(singleton === undefined ? {} : { singleton }),
  };
}

/**
 * Defines a durable function: `triggers` say when it runs, `handler` is its code. Every side
 * effect belongs in a `step.*` call, whose result is memoized: after a crash or a sleep the
 * handler runs again from the top and finished steps return their stored results at once.
 *
 * ```ts
 * const welcome = createFunction(
 *   { id: "welcome", triggers: [{ event: "user/created" }], retries: 3 },
 *   async ({ event, step }) => {
 *     await step.run("send-email", () => mailer.send(event.data.email));
 *     await step.sleep("wait-a-day", "1d");
 *   },
 * );
 * ```
 */
export function createFunction<TOutput, TData extends EventData = EventData>(
  config: FunctionConfig<TData> & {
    /** Runs as its own function after this one fails for good. */
    readonly onFailure?: (context: FailureContext) => Promise<unknown> | unknown;
  },
  handler: FlowHandler<TOutput, TData>,
): FlowFunction<TOutput, TData> {
  if (typeof handler !== "function") throw invalidArgument("handler", "expected a function");
  const definition = normalise(config);
  return {
    id: definition.id,
    definition,
    handler,
    ...(config.schema === undefined ? {} : { schema: config.schema }),
    ...(config.onFailure === undefined ? {} : { onFailure: config.onFailure }),
  };
}
