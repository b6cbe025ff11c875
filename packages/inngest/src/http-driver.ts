import { type Clock, type Logger, zodIssueError } from "@troupe/core";
import type {
  DriverRequest,
  DriverResponse,
  FlowDriver,
  FlowEvent,
  Opcode,
  SerializedError,
} from "@troupe/flows";
import { z } from "zod";
import { parseInngestDuration, sleepUntil } from "./durations.js";
import { type OffloadOptions, parseOffload, performOffload } from "./offload.js";
import { mapWaitForSignal } from "./signal-op.js";
import { canonicalJson, signBody, verifySignature } from "./signing.js";
import { createSigningKeyring } from "./signing-keys.js";
import { invokeOptionsOf, waitEventsOf } from "./troupe-extensions.js";

const ONE_YEAR_MS = 366 * 86_400_000;

/** Where a function is served, as the driver needs it. */
export interface CallTarget {
  /** The function's call URL (`…?fnId=<id>&stepId=step`). */
  readonly callUrl: string;
}

/** Options of {@link createHttpDriver}. */
export interface HttpDriverOptions {
  /** Finds the current call target of a function; undefined once an app re-sync dropped it. */
  readonly resolve: (functionId: string) => CallTarget | undefined;
  /** Signs call requests (`X-Inngest-Signature`) when set. */
  readonly signingKey?: string;
  /** Also accepted when verifying response signatures, so keys can rotate without downtime. */
  readonly signingKeyFallback?: string;
  /** When the fallback stops being accepted (ms since the epoch). Unset: while it is set. */
  readonly signingKeyFallbackUntil?: number;
  /**
   * Refuse 2xx replies that carry no `X-Inngest-Signature` (a signing key must be set). Default:
   * true for `serverKind: "cloud"`, whose SDKs sign every reply; SDKs in dev mode never sign, so
   * in dev a signature is checked only when present.
   */
  readonly requireSignedResponses?: boolean;
  /** `dev` or `cloud`, sent as `X-Inngest-Server-Kind`. */
  readonly serverKind: "dev" | "cloud";
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Longest a call may take before it counts as a retriable failure. Default 2 h (Inngest's cap). */
  readonly requestTimeoutMs?: number;
  /**
   * Call bodies larger than this (bytes) carry no events or step results; the SDK fetches them
   * from `GET /v0/runs/:id/batch` and `/actions` instead (`ctx.use_api`). Default 4 MiB, as
   * Inngest.
   */
  readonly maxRequestBodyBytes?: number;
  /**
   * Extra `ctx` fields to send (checkpointing adds `fn_id` and `qi_id`). Returning nothing keeps
   * the classic one-step-per-request protocol.
   */
  readonly extraContext?: (request: DriverRequest) => Record<string, unknown> | undefined;
  /**
   * Takes step results an SDK checkpointed during this call (v4 checkpointing), so they are
   * applied with the call's response.
   */
  readonly takeCheckpointed?: (runId: string) => Promise<readonly unknown[]>;
  /** How `step.fetch` and `step.ai.infer` requests are made (see offload.ts). */
  readonly offload?: Omit<OffloadOptions, "fetch">;
}

const errorSchema = z.looseObject({
  name: z.string().optional(),
  message: z.string().optional(),
  stack: z.string().optional(),
});

const opSchema = z.looseObject({
  id: z.string().min(1),
  op: z.string().min(1),
  name: z.string().optional(),
  displayName: z.string().optional(),
  userland: z.looseObject({ id: z.string().optional() }).nullish(),
  opts: z.record(z.string(), z.unknown()).nullish(),
  data: z.unknown().optional(),
  error: z.unknown().optional(),
  timing: z.unknown().optional(),
});

type SdkOp = z.infer<typeof opSchema>;

/** Ops that ride along with others and need no engine action. */
const LAZY_OPS = new Set(["DeferAdd", "DeferAbort", "DiscoveryRequest"]);

/** The event as the SDKs expect it in a call request. */
export function toSdkEvent(event: FlowEvent): Record<string, unknown> {
  return {
    id: event.id,
    name: event.name,
    data: event.data,
    ts: event.ts,
    user: event.user ?? {},
    ...(event.v === undefined ? {} : { v: event.v }),
  };
}

/** A thrown value from an SDK body (`serialize-error` style) as a flows error. */
export function toSerializedError(value: unknown, fallback: string): SerializedError {
  const parsed = errorSchema.safeParse(value);
  if (parsed.success && (parsed.data.message !== undefined || parsed.data.name !== undefined)) {
    return {
      name: parsed.data.name ?? "Error",
      message: parsed.data.message ?? fallback,
      ...(parsed.data.stack ? { stack: parsed.data.stack } : {}),
    };
  }
  if (typeof value === "object" && value !== null && "error" in value) {
    const inner = (value as { error: unknown }).error;
    if (typeof inner === "string") return { name: "Error", message: inner };
  }
  return { name: "Error", message: fallback };
}

/** `Retry-After`: seconds or a date, as ms since the epoch. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(header.trim())) return now + Math.round(Number(header) * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? at : undefined;
}

/** Fails the run at once: the app broke the protocol, and a retry would see the same answer. */
function protocolError(message: string): DriverResponse {
  return { type: "error", retriable: false, error: { name: "INNGEST_BAD_RESPONSE", message } };
}

function stepName(op: SdkOp): string {
  return op.displayName ?? op.userland?.id ?? op.name ?? op.id;
}

function timingOf(op: SdkOp, now: number): { startedAt: number; endedAt: number } | undefined {
  // The SDK reports `{ a, b }` in ns of its own clock; only the step's own duration is kept.
  const timing = op.timing as { a?: unknown; b?: unknown } | undefined;
  if (
    !timing ||
    typeof timing.a !== "number" ||
    typeof timing.b !== "number" ||
    timing.b < timing.a
  ) {
    return undefined;
  }
  const durationMs = Math.round((timing.b - timing.a) / 1e6);
  return { startedAt: now - durationMs, endedAt: now };
}

/**
 * Maps one SDK opcode onto the engine's. Returns undefined for ops that need no action, a
 * string (the problem) for ops Troupe cannot run.
 */
export function mapOp(
  op: SdkOp,
  context: { now: number; noRetry: boolean; retryAt: number | undefined; index: number },
): Opcode | "complete" | undefined | string {
  const name = stepName(op);
  const opts = op.opts ?? {};
  const at = `ops[${context.index}]`;
  switch (op.op) {
    case "StepRun":
    case "Step": {
      const timing = timingOf(op, context.now);
      const input = Array.isArray(opts.input) ? (opts.input as unknown[]) : undefined;
      return {
        op: "StepRun",
        id: op.id,
        name,
        data: op.data === undefined ? null : op.data,
        kind: opts.type === "step.sendEvent" ? "sendEvent" : "run",
        ...(timing ? { timing } : {}),
        ...(input ? { input } : {}),
      };
    }
    case "StepError":
    case "StepFailed": {
      const error = toSerializedError(op.error ?? op.data, `step ${JSON.stringify(name)} failed`);
      const timing = timingOf(op, context.now);
      if (op.op === "StepFailed" || context.noRetry) {
        return { op: "StepFailed", id: op.id, name, error, ...(timing ? { timing } : {}) };
      }
      return {
        op: "StepError",
        id: op.id,
        name,
        error,
        ...(context.retryAt === undefined ? {} : { retryAt: context.retryAt }),
        ...(timing ? { timing } : {}),
      };
    }
    case "StepPlanned":
      return opts.parallelMode === "race"
        ? { op: "StepPlanned", id: op.id, name, race: true }
        : { op: "StepPlanned", id: op.id, name };
    case "WaitForSignal":
      return mapWaitForSignal(op, name, at);
    case "Sleep":
      return {
        op: "Sleep",
        id: op.id,
        name,
        until: sleepUntil(opts.duration ?? op.name, context.now, `${at}.name`),
      };
    case "WaitForEvent": {
      const event = typeof opts.event === "string" && opts.event !== "" ? opts.event : op.name;
      if (event === undefined || event === "") return `${at}.name: expected the awaited event name`;
      const condition = typeof opts.if === "string" && opts.if !== "" ? opts.if : undefined;
      const events = waitEventsOf(event, condition);
      if ("error" in events) return `${at}.name: ${events.error}`;
      return {
        op: "WaitForEvent",
        id: op.id,
        name,
        event: events.event,
        timeoutMs: parseInngestDuration(opts.timeout, `${at}.opts.timeout`),
        ...(condition === undefined ? {} : { if: condition }),
        ...(events.anyOf === undefined ? {} : { anyOf: events.anyOf }),
      };
    }
    case "InvokeFunction": {
      const functionId = opts.function_id;
      if (typeof functionId !== "string" || functionId === "") {
        return `${at}.opts.function_id: expected the invoked function's id`;
      }
      const payload = opts.payload as { data?: unknown } | undefined;
      const invoke = invokeOptionsOf(payload?.data ?? {});
      return {
        op: "InvokeFunction",
        id: op.id,
        name,
        functionId,
        data: invoke.data,
        ...(invoke.cascadeCancel === false ? { cascadeCancel: false } : {}),
        timeoutMs:
          opts.timeout === undefined || opts.timeout === ""
            ? ONE_YEAR_MS
            : parseInngestDuration(opts.timeout, `${at}.opts.timeout`),
      };
    }
    case "RunComplete":
      return "complete";
    default:
      if (LAZY_OPS.has(op.op)) return undefined;
      return `${at}.op: ${JSON.stringify(op.op)} is not supported by Troupe yet`;
  }
}

/**
 * The Inngest HTTP driver: runs a function by POSTing a call request to the app's serve URL
 * and maps the SDK's answer (200 output, 206 opcodes, 4xx/5xx errors) onto the engine's
 * {@link DriverResponse}. Stateless between calls except a per-run cache of the SDK's request
 * version, which only saves the SDK from re-deciding it.
 */
export function createHttpDriver(options: HttpDriverOptions): FlowDriver {
  const { clock, logger } = options;
  const timeoutMs = options.requestTimeoutMs ?? 2 * 3_600_000;
  const maxBodyBytes = options.maxRequestBodyBytes ?? 4 * 1024 * 1024;
  const versions = new Map<string, number>();
  const keyring = createSigningKeyring(options, clock);
  // Fixed at creation: a closed rotation window must not turn verification off.
  const verifies = Boolean(options.signingKey || options.signingKeyFallback);
  const requireSigned = options.requireSignedResponses ?? options.serverKind === "cloud";

  const rememberVersion = (runId: string, header: string | null) => {
    const version = Number(header);
    if (!Number.isInteger(version) || version < 1 || versions.has(runId)) return;
    if (versions.size >= 10_000) {
      const oldest = versions.keys().next().value;
      if (oldest !== undefined) versions.delete(oldest);
    }
    versions.set(runId, version);
  };

  const checkSignature = (
    status: number,
    headers: Headers,
    text: string,
    url: URL,
  ): DriverResponse | undefined => {
    if (!verifies) return undefined;
    const signature = headers.get("x-inngest-signature");
    const valid =
      signature !== null &&
      signature !== "" &&
      verifySignature(signature, text, keyring.acceptedKeys(), clock.now());
    if (status < 300) {
      // Without this, anyone answering on the app's address could complete a run with forged
      // output by leaving the signature out.
      if (!signature && requireSigned) {
        return {
          type: "error",
          retriable: false,
          error: {
            name: "INNGEST_MISSING_SIGNATURE",
            message: `${url.origin}${url.pathname} answered without an x-inngest-signature header: the reply is not from an app holding the signing key`,
          },
        };
      }
      if (signature && !valid) {
        return {
          type: "error",
          retriable: false,
          error: {
            name: "INNGEST_BAD_SIGNATURE",
            message: "the app's response signature does not match the signing key",
          },
        };
      }
      return undefined;
    }
    // An SDK holding the key signs its error replies too; an unsigned one (a proxy, an impostor)
    // may not end the run with `x-inngest-no-retry`, so it is retried. The SDK's refusal of our
    // own signature (401/403) is never signed: it is reported as it is.
    if (!requireSigned || valid || status === 401 || status === 403) return undefined;
    return {
      type: "error",
      retriable: true,
      error: {
        name: "INNGEST_UNSIGNED_REPLY",
        message: `${url.origin}${url.pathname} answered HTTP ${status} without a valid signature: not trusted to end the run, so the step is retried`,
      },
    };
  };

  const interpret = async (
    request: DriverRequest,
    status: number,
    headers: Headers,
    text: string,
    url: URL,
  ): Promise<DriverResponse> => {
    const now = clock.now();
    if (status === 201) {
      // Streaming keep-alive: spaces, then one JSON `{ status, headers, body }`.
      let wrapped: unknown;
      try {
        wrapped = JSON.parse(text.trim());
      } catch {
        return protocolError("a streamed (201) response did not end with a JSON result");
      }
      const parsed = z
        .object({
          status: z.number().int(),
          headers: z.record(z.string(), z.string()).optional(),
          body: z.unknown(),
        })
        .safeParse(wrapped);
      if (!parsed.success)
        return protocolError("a streamed (201) response had no { status, body }");
      const body =
        typeof parsed.data.body === "string"
          ? parsed.data.body
          : JSON.stringify(parsed.data.body ?? null);
      const inner = new Headers(parsed.data.headers ?? {});
      const refused = checkSignature(parsed.data.status, inner, body, url);
      if (refused) return refused;
      return interpret(request, parsed.data.status, inner, body, url);
    }
    let body: unknown = null;
    let bodyIsJson = true;
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text);
      } catch {
        bodyIsJson = false;
        body = text;
      }
    }
    if (status === 200) {
      if (!bodyIsJson) return protocolError("the function's output (HTTP 200) is not JSON");
      return { type: "complete", output: body ?? null };
    }
    if (status === 206) {
      if (!bodyIsJson || !Array.isArray(body)) {
        return protocolError("a 206 response must be a JSON array of opcodes");
      }
      const noRetry = headers.get("x-inngest-no-retry") === "true";
      const retryAt = parseRetryAfter(headers.get("retry-after"), now);
      const checkpointed = (await options.takeCheckpointed?.(request.runId)) ?? [];
      const raw = [...checkpointed, ...body];
      const ops: Opcode[] = [];
      let complete: { output: unknown } | undefined;
      for (const [index, item] of raw.entries()) {
        const parsed = opSchema.safeParse(item);
        if (!parsed.success) {
          return protocolError(zodIssueError(parsed.error, `ops[${index}]`).message);
        }
        if (parsed.data.op === "StepNotFound") {
          // The planned step is not in the app's code any more (a deploy changed it): retry, as
          // Inngest does, so a rollout in progress can settle; the attempts bound it.
          return {
            type: "error",
            retriable: true,
            error: {
              name: "INNGEST_STEP_NOT_FOUND",
              message: `the app did not find step ${parsed.data.id} (${request.functionId}); did its code change?`,
            },
          };
        }
        if (parsed.data.op === "Gateway" || parsed.data.op === "AIGateway") {
          const offload = parseOffload(parsed.data, `ops[${index}]`);
          if (typeof offload === "string") return protocolError(offload);
          const step = { id: parsed.data.id, name: stepName(parsed.data) };
          const offloadOptions = { ...options.offload, fetch: options.fetch };
          ops.push(await performOffload(step, offload, offloadOptions, () => clock.now()));
          continue;
        }
        let mapped: ReturnType<typeof mapOp>;
        try {
          mapped = mapOp(parsed.data, { now, noRetry, retryAt, index });
        } catch (error) {
          return protocolError(error instanceof Error ? error.message : String(error));
        }
        if (mapped === undefined) continue;
        if (mapped === "complete") {
          complete = { output: parsed.data.data ?? null };
          continue;
        }
        if (typeof mapped === "string") return protocolError(mapped);
        ops.push(mapped);
      }
      if (complete) {
        // Steps checkpointed on the way to RunComplete are recorded first, so the run's history
        // lists them; the engine then asks once more and the SDK, with every step memoized,
        // completes again. Steps already memoized are left out: they would make no progress.
        const fresh = ops.filter((op) => op.op === "StepRun" && !(op.id in request.steps));
        return fresh.length > 0
          ? { type: "ops", ops: fresh }
          : { type: "complete", output: complete.output };
      }
      if (ops.length === 0)
        return protocolError("a 206 response carried no opcode Troupe can act on");
      return { type: "ops", ops };
    }
    const retryAt = parseRetryAfter(headers.get("retry-after"), now);
    const noRetryHeader = headers.get("x-inngest-no-retry");
    if (status === 401 || status === 403) {
      return {
        type: "error",
        retriable: false,
        error: {
          name: "INNGEST_UNAUTHORIZED",
          message: `the app rejected the call request (HTTP ${status}): check that Troupe and the app use the same signing key`,
        },
      };
    }
    const retriable =
      noRetryHeader === null ? !(status >= 400 && status < 500) : noRetryHeader !== "true";
    const error = toSerializedError(body, `the app answered HTTP ${status}`);
    return {
      type: "error",
      retriable,
      error,
      ...(retryAt === undefined ? {} : { retryAt }),
    };
  };

  return {
    async execute(request) {
      const target = options.resolve(request.functionId);
      if (!target) {
        return {
          type: "error",
          retriable: false,
          error: {
            name: "INNGEST_FUNCTION_GONE",
            message: `function ${JSON.stringify(request.functionId)} is not provided by any synced app (removed by a re-sync?)`,
          },
        };
      }
      const stepId = request.stepId === "discover" ? "step" : request.stepId;
      const url = new URL(target.callUrl);
      url.searchParams.set("fnId", request.functionId);
      url.searchParams.set("stepId", stepId);
      const extra = options.extraContext?.(request);
      const payload = {
        event: toSdkEvent(request.event),
        events: request.events.map(toSdkEvent),
        steps: request.steps,
        ctx: {
          run_id: request.runId,
          attempt: request.attempt,
          max_attempts: request.maxAttempts,
          disable_immediate_execution: request.disableImmediateExecution,
          use_api: false,
          stack: { stack: request.stack, current: request.stack.length },
          ...extra,
        },
        version: versions.get(request.runId) ?? -1,
        use_api: false,
      };
      let body = canonicalJson(payload);
      if (Buffer.byteLength(body) > maxBodyBytes) {
        body = canonicalJson({
          ...payload,
          events: [],
          steps: {},
          ctx: { ...payload.ctx, use_api: true },
          use_api: true,
        });
      }
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "x-run-id": request.runId,
        "x-inngest-step-id": stepId,
        "x-inngest-server-kind": options.serverKind,
      };
      const version = versions.get(request.runId);
      if (version !== undefined) headers["x-inngest-req-version"] = String(version);
      if (options.signingKey) {
        headers["x-inngest-signature"] = signBody(
          options.signingKey,
          body,
          Math.floor(clock.now() / 1000),
        );
      }
      let response: Response;
      let text: string;
      try {
        response = await options.fetch(url, {
          method: "POST",
          headers,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await response.text();
      } catch (error) {
        logger.warn("inngest: call request failed", {
          functionId: request.functionId,
          url: url.origin,
          error,
        });
        return {
          type: "error",
          retriable: true,
          error: {
            name: "INNGEST_UNREACHABLE",
            message: `could not reach the app at ${url.origin}${url.pathname}: ${error instanceof Error ? error.message : String(error)}`,
          },
        };
      }
      if (
        response.status >= 200 &&
        response.status < 300 &&
        !response.headers.has("x-inngest-sdk")
      ) {
        return {
          type: "error",
          retriable: true,
          error: {
            name: "INNGEST_NOT_AN_SDK",
            message: `${url.origin}${url.pathname} answered HTTP ${response.status} without an x-inngest-sdk header: is the serve URL right?`,
          },
        };
      }
      // A streamed (201) reply carries its signature with the wrapped result: checked there.
      const refused =
        response.status === 201
          ? undefined
          : checkSignature(response.status, response.headers, text, url);
      if (refused) return refused;
      rememberVersion(request.runId, response.headers.get("x-inngest-req-version"));
      const result = await interpret(request, response.status, response.headers, text, url);
      if (result.type === "complete" || (result.type === "error" && !result.retriable)) {
        versions.delete(request.runId);
        // Checkpointed steps of a finished run have nothing left to apply to.
        await options.takeCheckpointed?.(request.runId);
      }
      return result;
    },
  };
}
