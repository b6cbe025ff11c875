import {
  type Clock,
  createJsonCodec,
  type Duration,
  invalidArgument,
  issueField,
  parseDuration,
} from "@troupe/core";
import type {
  DriverOutcome,
  DriverRequest,
  DriverResponse,
  FlowDriver,
  Opcode,
  WaitAlternative,
} from "./driver.js";
import {
  NonRetriableError,
  RetryAfterError,
  type SerializedError,
  StepError,
  serializeError,
} from "./errors.js";
import type { EventData, EventInput, FlowEvent } from "./event.js";
import { compileExpression } from "./expression.js";
import type { FailureContext, FlowContext, FlowFunction } from "./function.js";
import { stepHash } from "./hash.js";
import { checkSignalName } from "./signals.js";
import type { StepTools, WaitForEventOptions } from "./step-tools.js";

const ONE_YEAR_MS = 366 * 86_400_000;

/** What the in-process driver needs from the engine. */
export interface InProcessDriverDeps {
  readonly clock: Clock;
  /** Sends events from `step.sendEvent`. */
  send(events: readonly EventInput[]): Promise<{ ids: string[] }>;
}

type FoundStep =
  | {
      readonly kind: "run";
      readonly hash: string;
      readonly name: string;
      readonly execute: () => unknown;
      readonly input: readonly unknown[] | undefined;
      readonly sendEvent: boolean;
      /** Hands the step's result to the handler waiting on it. */
      readonly resume: (value: unknown) => void;
    }
  | { readonly kind: "op"; readonly hash: string; readonly name: string; readonly op: Opcode };

type Settled =
  | { readonly type: "returned"; readonly output: unknown }
  | { readonly type: "threw"; readonly error: unknown };

function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

/** A promise the handler awaits, and the function that resolves it (a step's result). */
function pending<T>(): { promise: Promise<T>; resume: (value: unknown) => void } {
  let resume: (value: unknown) => void = () => {};
  const promise = new Promise<T>((resolve) => {
    resume = (value) => resolve(value as T);
  });
  return { promise, resume };
}

// Results are handed on as a replay would see them: through the codec the engine stores them with.
const codec = createJsonCodec<unknown>();

function toTime(value: Date | number | string, field: string): number {
  const time =
    value instanceof Date ? value.getTime() : typeof value === "number" ? value : Date.parse(value);
  if (!Number.isFinite(time)) throw invalidArgument(field, "expected a Date, ms or an ISO time");
  return time;
}

function failureResponse(error: unknown, now: number): DriverOutcome {
  if (error instanceof StepError) {
    return { type: "error", error: error.error, retriable: false };
  }
  if (NonRetriableError.isInstance(error)) {
    return { type: "error", error: serializeError(error), retriable: false };
  }
  if (RetryAfterError.isInstance(error)) {
    return {
      type: "error",
      error: serializeError(error),
      retriable: true,
      retryAt: error.retryAt(now),
    };
  }
  return { type: "error", error: serializeError(error), retriable: true };
}

/**
 * Runs a TypeScript handler the Inngest way: from the top on every request, memoized steps
 * resolve at once, and execution stops at the first new step(s). One new `step.run` is executed
 * inline; several found in the same tick (`Promise.all`) are reported as planned, and the engine
 * asks for each by hash.
 */
export function createInProcessDriver(
  fn: FlowFunction<unknown, EventData>,
  deps: InProcessDriverDeps,
  failureOf?: FlowFunction<unknown, EventData>,
): FlowDriver {
  // Handlers this driver suspended and handed out as `resume`, each usable once.
  const issued = new WeakSet<object>();
  return {
    async execute(request) {
      const resumed = resumable(request);
      if (resumed) return answer(request, resumed.session, resumed.stable);
      const session: Session = {
        found: [],
        onFound: undefined,
        visited: new Set<string>(),
        settled: undefined,
        done: Promise.resolve(),
      };
      const find = (entry: FoundStep) => {
        session.found.push(entry);
        session.onFound?.();
      };
      const visited = session.visited;
      const repeats = new Map<string, number>();
      const memo = request.steps;

      const track = (name: string): string => {
        if (typeof name !== "string" || name === "")
          throw invalidArgument("step id", "expected a non-empty string");
        const repeat = repeats.get(name) ?? 0;
        repeats.set(name, repeat + 1);
        const hash = stepHash(name, repeat);
        visited.add(hash);
        return hash;
      };
      const replay = <T>(hash: string, name: string): Promise<T> | undefined => {
        const stored = memo[hash];
        if (stored === undefined) return undefined;
        if ("error" in stored) return Promise.reject(new StepError(name, stored.error));
        return Promise.resolve(stored.data as T);
      };
      const addOp = <T>(name: string, make: (hash: string) => Opcode): Promise<T> => {
        const hash = track(name);
        const memoized = replay<T>(hash, name);
        if (memoized) return memoized;
        find({ kind: "op", hash, name, op: make(hash) });
        return never<T>();
      };
      const now = () => deps.clock.now();

      const step: StepTools = {
        run(name, body, ...args) {
          const hash = track(name);
          const memoized = replay<never>(hash, name);
          if (memoized) return memoized;
          if (typeof body !== "function")
            return Promise.reject(invalidArgument(`step.run(${name})`, "expected a function"));
          const result = pending<never>();
          find({
            kind: "run",
            hash,
            name,
            execute: () => body(...args),
            input: args.length > 0 ? args : undefined,
            sendEvent: false,
            resume: result.resume,
          });
          return result.promise;
        },
        sleep(name, duration: Duration) {
          return addOp(name, (hash) => ({
            op: "Sleep",
            id: hash,
            name,
            until: now() + parseDuration(duration, `step.sleep(${name})`),
          }));
        },
        sleepUntil(name, time) {
          return addOp(name, (hash) => ({
            op: "Sleep",
            id: hash,
            name,
            until: toTime(time, `step.sleepUntil(${name})`),
          }));
        },
        waitForEvent(name, options) {
          return addOp(name, (hash) => {
            const condition =
              options.match !== undefined
                ? `event.${options.match} == async.${options.match}`
                : options.if;
            return {
              op: "WaitForEvent",
              id: hash,
              name,
              event: options.event,
              ...(condition === undefined ? {} : { if: condition }),
              timeoutMs: parseDuration(options.timeout, `step.waitForEvent(${name}).timeout`),
              ...(options.anyOf === undefined
                ? {}
                : { anyOf: waitAlternatives(options.anyOf, `step.waitForEvent(${name}).anyOf`) }),
            };
          });
        },
        waitForSignal(name, options) {
          return addOp(name, (hash) => ({
            op: "WaitForSignal",
            id: hash,
            name,
            signal: checkSignalName(options?.signal, `step.waitForSignal(${name}).signal`),
            timeoutMs: parseDuration(options.timeout, `step.waitForSignal(${name}).timeout`),
            onConflict: options.onConflict ?? "replace",
          }));
        },
        invoke(name, options) {
          return addOp(name, (hash) => ({
            op: "InvokeFunction",
            id: hash,
            name,
            functionId:
              typeof options.function === "string" ? options.function : options.function.id,
            data: options.data ?? {},
            timeoutMs:
              options.timeout === undefined
                ? ONE_YEAR_MS
                : parseDuration(options.timeout, `step.invoke(${name}).timeout`),
            ...(options.cascadeCancel === false ? { cascadeCancel: false } : {}),
          }));
        },
        sendEvent(name, events) {
          const hash = track(name);
          const memoized = replay<{ ids: string[] }>(hash, name);
          if (memoized) return memoized;
          const list = (Array.isArray(events) ? events : [events]) as readonly EventInput[];
          // Deterministic idempotency ids: a retried step sends the same events, which dedupe.
          const withIds = list.map((event, index) => ({
            ...event,
            id: event.id ?? `${request.runId}:${hash}:${index}`,
          }));
          const result = pending<{ ids: string[] }>();
          find({
            kind: "run",
            hash,
            name,
            execute: () => deps.send(withIds),
            input: undefined,
            sendEvent: true,
            resume: result.resume,
          });
          return result.promise;
        },
      };

      let event = request.event;
      let events = request.events;
      if (fn.schema && !failureOf) {
        const parsed = fn.schema.safeParse(event.data);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const field = issueField(issue, "event.data");
          return {
            type: "error",
            retriable: false,
            error: {
              name: "FLOWS_INVALID_EVENT",
              message: `${field}: ${issue?.message ?? "does not match the function's schema"}`,
            },
          };
        }
        event = { ...event, data: parsed.data };
        events = [event, ...events.slice(1)];
      }
      const base: FlowContext = {
        event,
        events,
        runId: request.runId,
        attempt: request.attempt,
        step,
      };
      const handler = failureOf
        ? () => {
            const data = request.event.data as {
              error?: FailureContext["error"];
              run_id?: string;
              event?: FlowEvent;
            };
            const context: FailureContext = {
              ...base,
              ...(data.event ? { event: data.event } : {}),
              error: data.error ?? { name: "Error", message: "unknown" },
              failedRunId: data.run_id ?? "",
            };
            return failureOf.onFailure?.(context);
          }
        : () => fn.handler(base);
      session.done = Promise.resolve()
        .then(handler)
        .then(
          (output) => {
            session.settled = { type: "returned", output };
          },
          (error: unknown) => {
            session.settled = { type: "threw", error };
          },
        );
      return answer(request, session, blocked(session));
    },
  };

  /** The suspended handler `request.resume` names, if it is this driver's and fits the request. */
  function resumable(request: DriverRequest): Suspended | undefined {
    const resume = request.resume;
    if (typeof resume !== "object" || resume === null || !issued.has(resume)) return undefined;
    // One use: whatever the answer, the handler moves on from where it was.
    issued.delete(resume);
    const suspended = resume as Suspended;
    const fits =
      suspended.runId === request.runId &&
      request.stepId === "discover" &&
      !request.disableImmediateExecution &&
      suspended.attempt === request.attempt &&
      suspended.stack.length === request.stack.length &&
      suspended.stack.every((hash, index) => request.stack[index] === hash) &&
      suspended.eventIds.length === request.events.length &&
      suspended.eventIds.every((id, index) => request.events[index]?.id === id);
    return fits ? suspended : undefined;
  }

  /** Answers `request` from a handler call started (or resumed) in `session`. */
  async function answer(
    request: DriverRequest,
    session: Session,
    stable: Promise<void>,
  ): Promise<DriverResponse> {
    const now = () => deps.clock.now();
    await stable;
    const found = session.found;
    const settled = session.settled;
    const unvisited = request.stack.filter((hash) => !session.visited.has(hash));
    if (unvisited.length > 0 && (settled?.type !== "threw" || found.length > 0)) {
      const newNames = found.map((entry) => entry.name);
      return {
        type: "error",
        retriable: false,
        error: {
          name: "FLOWS_NONDETERMINISM",
          message: `the handler's step sequence changed between replays: ${unvisited.length} memoized step(s) were not reached${newNames.length > 0 ? `, new step(s) found instead: ${newNames.join(", ")}` : ""}. Keep step ids and their order stable while runs are in flight.`,
        },
      };
    }
    if (settled?.type === "returned") return { type: "complete", output: settled.output ?? null };
    if (settled?.type === "threw") return failureResponse(settled.error, now());

    if (request.stepId !== "discover") {
      const target = found.find((entry) => entry.hash === request.stepId);
      if (target?.kind !== "run") {
        return {
          type: "error",
          retriable: true,
          error: {
            name: "FLOWS_STEP_NOT_FOUND",
            message: `planned step ${request.stepId} was not found; found: ${found.map((entry) => entry.name).join(", ") || "none"}`,
          },
        };
      }
      return { type: "ops", ops: [await runStep(target, request, now)] };
    }
    const only = found[0];
    if (found.length === 1 && only?.kind === "run" && !request.disableImmediateExecution) {
      const op = await runStep(only, request, now);
      if (op.op !== "StepRun") return { type: "ops", ops: [op] };
      // Let the handler go on with the result; if it returns before reaching another step, the
      // engine commits the step and the run's end together.
      let replayed: unknown;
      try {
        replayed = codec.decode(codec.encode(op.data));
      } catch {
        return { type: "ops", ops: [op] };
      }
      only.resume(replayed);
      await nextAfterStep(session);
      session.onFound = undefined;
      const ended = session.settled;
      if (!ended && found.length > 1) {
        // The handler waits at its next step(s): the next discovery may go on from here
        // instead of replaying it from the top (see `DriverRequest.resume`).
        session.found = found.slice(1);
        const suspended: Suspended = {
          runId: request.runId,
          attempt: request.attempt,
          stack: [...request.stack, op.id],
          eventIds: request.events.map((event) => event.id),
          session,
          stable: blocked(session),
        };
        issued.add(suspended);
        return { type: "ops", ops: [op], resume: suspended };
      }
      if (!ended || found.length > 1) return { type: "ops", ops: [op] };
      const after: DriverOutcome =
        ended.type === "returned"
          ? { type: "complete", output: ended.output ?? null }
          : failureResponse(ended.error, now());
      return { type: "ops", ops: [op], after };
    }
    return {
      type: "ops",
      ops: found.map((entry) =>
        entry.kind === "op"
          ? entry.op
          : ({ op: "StepPlanned", id: entry.hash, name: entry.name } satisfies Opcode),
      ),
    };
  }
}

/** The state of one handler call, kept while it waits at a step so a later request may resume it. */
interface Session {
  /** Steps found and not yet answered for. */
  found: FoundStep[];
  /** Told of every step found (see {@link nextAfterStep}). */
  onFound: (() => void) | undefined;
  /** Every step hash the handler reached. */
  readonly visited: Set<string>;
  settled: Settled | undefined;
  /** Settles when the handler does. */
  done: Promise<void>;
}

/** A handler waiting at the steps it reached after its inline step ran. */
interface Suspended {
  readonly runId: string;
  readonly attempt: number;
  /** The stack the next discovery carries: the request's, plus the step that ran. */
  readonly stack: readonly string[];
  readonly eventIds: readonly string[];
  readonly session: Session;
  /** Resolves once what the handler reached is known (see {@link blocked}). */
  readonly stable: Promise<void>;
}

/**
 * Waits until the handler settles, or steps were found and a whole macrotask turn passed without
 * more: then every step reachable in this tick is reported.
 */
function blocked(session: Session): Promise<void> {
  return new Promise<void>((resolve) => {
    let lastCount = -1;
    let spins = 0;
    const check = () => {
      if (session.settled) return resolve();
      const count = session.found.length;
      if (count > 0 && count === lastCount) return resolve();
      lastCount = count;
      spins++;
      if (spins > 1000) setTimeout(check, 1);
      else setImmediate(check);
    };
    void session.done.then(() => resolve());
    setImmediate(check);
  });
}

/**
 * After the inline step ran, the first thing the handler does next decides the answer: a step
 * found (the step alone is reported) or the handler settled (it is reported with the run's end).
 * So this waits for that event, not for event-loop turns.
 */
function nextAfterStep(session: Session): Promise<void> {
  return new Promise<void>((resolve) => {
    if (session.settled || session.found.length > 1) return resolve();
    session.onFound = () => {
      if (session.found.length > 1) resolve();
    };
    void session.done.then(() => resolve());
  });
}

async function runStep(
  target: Extract<FoundStep, { kind: "run" }>,
  request: DriverRequest,
  now: () => number,
): Promise<Opcode> {
  const startedAt = now();
  const base = { id: target.hash, name: target.name };
  try {
    const data = await target.execute();
    return {
      ...base,
      op: "StepRun",
      data: data === undefined ? null : data,
      kind: target.sendEvent ? "sendEvent" : "run",
      ...(target.input === undefined ? {} : { input: target.input }),
      timing: { startedAt, endedAt: now() },
    };
  } catch (error) {
    const timing = { startedAt, endedAt: now() };
    const serialized: SerializedError = serializeError(error);
    if (NonRetriableError.isInstance(error) || request.attempt + 1 >= request.maxAttempts) {
      return { ...base, op: "StepFailed", error: serialized, timing };
    }
    return {
      ...base,
      op: "StepError",
      error: serialized,
      timing,
      ...(RetryAfterError.isInstance(error) ? { retryAt: error.retryAt(now()) } : {}),
    };
  }
}

/** Most alternatives of one wait (each is a registration every event of its name is matched to). */
const MAX_WAIT_ALTERNATIVES = 16;

/** Validates `anyOf` of `step.waitForEvent`, turning `match` into its condition. */
function waitAlternatives(
  input: NonNullable<WaitForEventOptions["anyOf"]>,
  field: string,
): WaitAlternative[] {
  if (!Array.isArray(input) || input.length > MAX_WAIT_ALTERNATIVES)
    throw invalidArgument(field, `expected a list of at most ${MAX_WAIT_ALTERNATIVES} events`);
  return input.map((alternative, index) => {
    const at = `${field}[${index}]`;
    if (typeof alternative?.event !== "string" || alternative.event === "")
      throw invalidArgument(`${at}.event`, "expected an event name");
    const condition =
      alternative.match !== undefined
        ? `event.${alternative.match} == async.${alternative.match}`
        : alternative.if;
    if (condition !== undefined) compileExpression(condition, `${at}.if`);
    return condition === undefined
      ? { event: alternative.event }
      : { event: alternative.event, if: condition };
  });
}
