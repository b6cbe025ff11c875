import { type Metrics, parseWith } from "@troupe/core";
import {
  createFunction,
  type EventData,
  type FlowFunction,
  NonRetriableError,
  type SerializedError,
  StepError,
  type StepTools,
  type Trigger,
} from "@troupe/flows";
import { z } from "zod";
import { type SagaMetrics, sagaMetrics } from "./saga-metrics.js";
import {
  backoffStepId,
  compensationOrder,
  compensationStepId,
  forwardStepId,
  idempotencyKey,
  OUTCOME_STEP_ID,
  retryDelayMs,
} from "./saga-plan.js";

/** What a step's `run` receives. */
export interface SagaStepContext<Input> {
  /** The saga's input (the data it was started with). */
  readonly input: Input;
  /** The saga instance's id: the id of the event that started it (kept by reruns). */
  readonly sagaId: string;
  /**
   * `<saga>/<sagaId>/<step>`: the same for every attempt of this step, after a crash and in a
   * rerun. Pass it to the actor call so that an attempt which already ran is not applied twice.
   */
  readonly idempotencyKey: string;
  /** The results of the steps that completed before this one, by step name. */
  readonly results: Readonly<Record<string, unknown>>;
  /** This attempt, 0-based (retries count up; a crash does not). */
  readonly attempt: number;
}

/** What a step's `compensate` receives. */
export interface SagaCompensationContext<Input> extends SagaStepContext<Input> {
  /** What this step's `run` returned. */
  readonly result: unknown;
  /** The step whose failure started the compensations, and its error. */
  readonly failure: { readonly step: string; readonly error: SerializedError };
}

/** One step of a saga. */
export interface SagaStep<Input> {
  /** Unique within the saga: letters, digits and `. _ / -`. */
  readonly name: string;
  /**
   * The forward action, typically one actor call (which is atomic). Its result (JSON) is
   * memoized: once it returned, it never runs again for this saga. Throw to fail the attempt;
   * throw `NonRetriableError` to fail the step at once.
   */
  readonly run: (ctx: SagaStepContext<Input>) => unknown;
  /**
   * Undoes `run` after a later step failed. Runs only for steps whose `run` completed, newest
   * first; it must be safe to run again (it gets the same idempotency key as `run`).
   */
  readonly compensate?: (ctx: SagaCompensationContext<Input>) => unknown;
  /** Retries of `run` after the first attempt, 0..20. Default: the saga's `retries`. */
  readonly retries?: number;
  /** Retries of `compensate`, 0..20. Default: the saga's `compensationRetries`. */
  readonly compensationRetries?: number;
}

/** Options of {@link defineSaga}. */
export interface SagaOptions<Input extends EventData> {
  /** The steps, run in order. At least one; at most 100. */
  readonly steps: readonly SagaStep<Input>[];
  /** A zod schema for the input: a saga started with bad input fails at once, naming the field. */
  readonly input?: z.ZodType<Input>;
  /** Events that start the saga (their `data` is the input). Default none: start it with `startSaga`. */
  readonly triggers?: readonly Trigger[];
  /** Default retries of each step after its first attempt, 0..20. Default 2. */
  readonly retries?: number;
  /** Default retries of each compensation, 0..20. Default 5. */
  readonly compensationRetries?: number;
  /** Delay before retry `n` (0-based): `baseMs × 2^n`, at most `maxMs`. Default 1 s and 1 min. */
  readonly backoff?: { readonly baseMs?: number; readonly maxMs?: number };
  /**
   * Where the `actors_saga_*` counters go, or a function returning it, called when the first
   * step runs — for the runtime, whose `runtime.metrics` exists only after the functions were
   * handed to `createRuntime`: `metrics: () => runtime.metrics`.
   */
  readonly metrics?: Metrics | (() => Metrics);
}

/** How a saga ended, as the output of its flow run (see `sagaOutcome` for all three states). */
export type SagaResult =
  | {
      readonly status: "completed";
      readonly sagaId: string;
      readonly results: Readonly<Record<string, unknown>>;
    }
  | {
      readonly status: "compensated";
      readonly sagaId: string;
      /** The step that failed for good. */
      readonly failedStep: string;
      readonly error: SerializedError;
      /** The steps whose compensation ran, in the order they ran. */
      readonly compensated: readonly string[];
      readonly results: Readonly<Record<string, unknown>>;
    };

/** The name a compensation failure carries in the failed run's error. */
export const SAGA_COMPENSATION_FAILED = "SagaCompensationFailedError";

/**
 * A compensation failed for good: the saga stops, its flow run fails with this error, and a
 * human has to look. `retrySagaCompensation(flows, runId)` retries from that compensation.
 */
export class SagaCompensationFailedError extends NonRetriableError {
  constructor(
    readonly saga: string,
    readonly sagaId: string,
    readonly failedStep: string,
    readonly compensationStep: string,
    readonly compensationError: SerializedError,
    readonly pending: readonly string[],
  ) {
    super(
      `saga ${JSON.stringify(saga)} (${sagaId}): step ${JSON.stringify(failedStep)} failed, ` +
        `then the compensation of ${JSON.stringify(compensationStep)} failed for good ` +
        `(${compensationError.message}); not compensated: ${JSON.stringify([compensationStep, ...pending])}. ` +
        `Fix the cause, then retry with retrySagaCompensation(flows, runId).`,
    );
    this.name = SAGA_COMPENSATION_FAILED;
  }
}

const NAME = /^[A-Za-z0-9._/-]+$/;
const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === "function", {
  message: "expected a function",
});
const retries = z.number().int().min(0).max(20);

const optionsSchema = z.object({
  steps: z
    .array(
      z.object({
        name: z.string().min(1).max(100).regex(NAME, "expected letters, digits and . _ / -"),
        run: fn,
        compensate: fn.optional(),
        retries: retries.optional(),
        compensationRetries: retries.optional(),
      }),
    )
    .min(1)
    .max(100)
    .superRefine((steps, ctx) => {
      const seen = new Set<string>();
      steps.forEach((step, index) => {
        if (seen.has(step.name))
          ctx.addIssue({
            code: "custom",
            path: [index, "name"],
            message: `duplicate step name ${JSON.stringify(step.name)}`,
          });
        seen.add(step.name);
      });
    }),
  input: z.unknown().optional(),
  triggers: z.array(z.unknown()).optional(),
  retries: retries.optional(),
  compensationRetries: retries.optional(),
  backoff: z
    .object({
      baseMs: z.number().int().min(0).optional(),
      maxMs: z.number().int().min(0).optional(),
    })
    .optional(),
  metrics: z.unknown().optional(),
});

interface Attempts {
  readonly retries: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: SerializedError };

/**
 * Runs `body` as memoized flow steps `idOf(0)`, `idOf(1)`, … until one completes, the retries
 * are used up, or it throws `NonRetriableError`; with a durable sleep before each retry. The
 * flow function has no retries of its own, so each flow step is one attempt.
 */
async function attempt(
  step: StepTools,
  idOf: (attempt: number) => string,
  limits: Attempts,
  counters: { started(): void; completed(): void; failed(): void },
  body: (attempt: number) => unknown,
): Promise<Outcome> {
  let error: SerializedError = { name: "Error", message: "no attempt ran" };
  for (let n = 0; n <= limits.retries; n++) {
    const id = idOf(n);
    if (n > 0) {
      const delay = retryDelayMs(limits.baseMs, limits.maxMs, n - 1);
      if (delay > 0) await step.sleep(backoffStepId(id), delay);
    }
    try {
      const value = await step.run(id, async () => {
        counters.started();
        try {
          const result = await body(n);
          counters.completed();
          return result;
        } catch (cause) {
          counters.failed();
          throw cause;
        }
      });
      return { ok: true, value };
    } catch (cause) {
      if (!(cause instanceof StepError)) throw cause;
      error = { name: cause.error.name, message: cause.error.message };
      if (cause.error.name === "NonRetriableError") break;
    }
  }
  return { ok: false, error };
}

/**
 * Defines a saga: a sequence of steps (typically actor calls), each with a compensation, run
 * durably as a `@troupe/flows` function named `name`. Every attempt of a step and of a
 * compensation is a memoized flow step, so a saga whose process dies resumes where it was on
 * the next worker. When a step fails for good (after its retries), the compensations of the
 * steps that completed run in reverse order. Register the result with `createFlows({ functions })`
 * and start it with `startSaga` (or `flows.invoke(name, { data })`, or an event trigger).
 */
export function defineSaga<Input extends EventData = EventData>(
  name: string,
  options: SagaOptions<Input>,
): FlowFunction<SagaResult, Input> {
  parseWith(
    z.string().min(1).max(128).regex(NAME, "expected letters, digits and . _ / -"),
    name,
    "defineSaga.name",
  );
  parseWith(optionsSchema, options, `defineSaga(${JSON.stringify(name)})`, {
    pathStyle: "brackets",
  });
  const steps = options.steps;
  const baseMs = options.backoff?.baseMs ?? 1000;
  const maxMs = options.backoff?.maxMs ?? 60_000;
  const defaultRetries = options.retries ?? 2;
  const defaultCompensationRetries = options.compensationRetries ?? 5;
  let resolved: SagaMetrics | undefined;
  const counters = (): SagaMetrics => {
    const { metrics } = options;
    resolved ??= sagaMetrics(typeof metrics === "function" ? metrics() : metrics);
    return resolved;
  };
  const labels = { saga: name };
  type Choose = (m: SagaMetrics) => SagaMetrics["stepsStarted"];
  const count = (started: Choose, done: Choose, failed: Choose) => ({
    started: () => started(counters()).inc(1, labels),
    completed: () => done(counters()).inc(1, labels),
    failed: () => failed(counters()).inc(1, labels),
  });
  const forwardCounters = count(
    (m) => m.stepsStarted,
    (m) => m.stepsCompleted,
    (m) => m.stepsFailed,
  );
  const compensationCounters = count(
    (m) => m.compensationsStarted,
    (m) => m.compensationsCompleted,
    (m) => m.compensationsFailed,
  );

  return createFunction<SagaResult, Input>(
    {
      id: name,
      triggers: options.triggers ?? [],
      retries: 0, // each attempt is a flow step of its own (see `attempt`)
      ...(options.input === undefined ? {} : { schema: options.input }),
    },
    async ({ event, step }) => {
      const sagaId = event.id;
      const input = event.data;
      const results: Record<string, unknown> = {};
      const completed = new Set<string>();
      const contextOf = (stepName: string, n: number): SagaStepContext<Input> => ({
        input,
        sagaId,
        idempotencyKey: idempotencyKey(name, sagaId, stepName),
        results: { ...results },
        attempt: n,
      });

      let failure: { step: string; error: SerializedError } | undefined;
      for (const sagaStep of steps) {
        const outcome = await attempt(
          step,
          (n) => forwardStepId(sagaStep.name, n),
          { retries: sagaStep.retries ?? defaultRetries, baseMs, maxMs },
          forwardCounters,
          (n) => sagaStep.run(contextOf(sagaStep.name, n)),
        );
        if (!outcome.ok) {
          failure = { step: sagaStep.name, error: outcome.error };
          break;
        }
        results[sagaStep.name] = outcome.value;
        completed.add(sagaStep.name);
      }

      if (failure === undefined) {
        await step.run(OUTCOME_STEP_ID, () => {
          counters().completed.inc(1, labels);
          return "completed";
        });
        return { status: "completed", sagaId, results };
      }

      const order = compensationOrder(steps, completed);
      const compensated: string[] = [];
      for (const [index, sagaStep] of order.entries()) {
        const undo = sagaStep.compensate;
        if (undo === undefined) continue;
        const cause = failure;
        const outcome = await attempt(
          step,
          (n) => compensationStepId(sagaStep.name, n),
          {
            retries: sagaStep.compensationRetries ?? defaultCompensationRetries,
            baseMs,
            maxMs,
          },
          compensationCounters,
          (n) =>
            undo({
              ...contextOf(sagaStep.name, n),
              result: results[sagaStep.name],
              failure: cause,
            }),
        );
        if (!outcome.ok) {
          await step.run(OUTCOME_STEP_ID, () => {
            counters().compensationFailed.inc(1, labels);
            return "compensation_failed";
          });
          throw new SagaCompensationFailedError(
            name,
            sagaId,
            failure.step,
            sagaStep.name,
            outcome.error,
            order.slice(index + 1).map((pending) => pending.name),
          );
        }
        compensated.push(sagaStep.name);
      }
      await step.run(OUTCOME_STEP_ID, () => {
        counters().compensated.inc(1, labels);
        return "compensated";
      });
      return {
        status: "compensated",
        sagaId,
        failedStep: failure.step,
        error: failure.error,
        compensated,
        results,
      };
    },
  );
}
