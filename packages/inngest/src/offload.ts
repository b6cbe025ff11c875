import type { Opcode, SerializedError } from "@troupe/flows";
import { z } from "zod";

/**
 * Offloaded requests: `step.fetch` (opcode `Gateway`) and `step.ai.infer` (opcode `AIGateway`).
 * The SDK reports the request instead of making it; Troupe makes it and memoizes the answer like
 * a step's result, so a replay never repeats it. A request that could not be made (network,
 * timeout, a 5xx or 429 from a model provider) is a step error and is retried with the step's
 * retries; one the policy refuses fails the step at once.
 */

/** Options of {@link performOffload}. */
export interface OffloadOptions {
  readonly fetch: typeof fetch;
  /**
   * Whether the server may contact `url`. Undefined: any http(s) URL (dev). In start mode the
   * runtime passes its allowlist policy, so a function cannot make the server reach addresses
   * behind it that the operator did not list.
   */
  readonly canFetchUrl?: (url: string) => boolean;
  /** Longest an offloaded request may take. Default 5 minutes. */
  readonly timeoutMs?: number;
  /** Largest response body kept (it becomes the step's memoized result). Default 4 MiB. */
  readonly maxResponseBytes?: number;
}

/** The offloaded request as reported by the SDK, validated. */
export interface OffloadRequest {
  readonly kind: "fetch" | "aiInfer";
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

const gatewayOptsSchema = z.looseObject({
  url: z.string().min(1, "expected the URL to fetch"),
  method: z.string().min(1).optional(),
  headers: z.record(z.string(), z.string()).nullish(),
  body: z.unknown().optional(),
});

const aiOptsSchema = z.looseObject({
  url: z.string().min(1, "expected the model provider's URL"),
  headers: z.record(z.string(), z.string()).nullish(),
  auth_key: z.string().nullish(),
  format: z.string().nullish(),
  body: z.unknown(),
});

/** Headers that carry credentials: left out of the request shown in the run's history. */
const SECRET_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "cookie",
]);

/** Provider formats whose key goes in a header other than `Authorization: Bearer`. */
function authHeaders(format: string | undefined, key: string): Record<string, string> {
  switch (format) {
    case "anthropic":
      return { "x-api-key": key, "anthropic-version": "2023-06-01" };
    case "gemini":
      return { "x-goog-api-key": key };
    case "azure-openai":
      return { "api-key": key };
    default:
      return { authorization: `Bearer ${key}` };
  }
}

/** The offload options of a mode: start mode without a policy contacts nothing. */
export function offloadPolicy(
  mode: "dev" | "start",
  canFetchUrl: ((url: string) => boolean) | undefined,
): Pick<OffloadOptions, "canFetchUrl"> {
  if (canFetchUrl) return { canFetchUrl };
  return mode === "start" ? { canFetchUrl: () => false } : {};
}

/** The request an offload opcode describes, or the problem (naming the field) with it. */
export function parseOffload(
  op: { readonly op: string; readonly opts?: Record<string, unknown> | null | undefined },
  at: string,
): OffloadRequest | string {
  if (op.op === "Gateway") {
    const parsed = gatewayOptsSchema.safeParse(op.opts ?? {});
    if (!parsed.success) return `${at}.opts: ${parsed.error.issues[0]?.message ?? "invalid"}`;
    const { url, method, headers, body } = parsed.data;
    return {
      kind: "fetch",
      url,
      method: (method ?? "GET").toUpperCase(),
      headers: { ...(headers ?? {}) },
      body: body === undefined || body === null ? undefined : String(body),
    };
  }
  const parsed = aiOptsSchema.safeParse(op.opts ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `${at}.opts.${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`;
  }
  const { url, headers, auth_key: key, format, body } = parsed.data;
  return {
    kind: "aiInfer",
    url,
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(key ? authHeaders(format ?? undefined, key) : {}),
      ...(headers ?? {}),
    },
    body: JSON.stringify(body ?? {}),
  };
}

/** The request as shown in the run's history: credentials left out. */
export function visibleRequest(request: OffloadRequest): Record<string, unknown> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    headers[name] = SECRET_HEADERS.has(name.toLowerCase()) ? "[redacted]" : value;
  }
  let body: unknown = request.body;
  if (request.kind === "aiInfer" && request.body !== undefined) body = JSON.parse(request.body);
  return {
    url: request.url,
    method: request.method,
    headers,
    ...(body === undefined ? {} : { body }),
  };
}

/** Why a URL may not be contacted, or undefined when it may. */
export function refusal(
  url: string,
  canFetchUrl: OffloadOptions["canFetchUrl"],
): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${JSON.stringify(url)} is not a URL`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    return `${parsed.protocol} URLs are not fetched; expected http or https`;
  if (parsed.username !== "" || parsed.password !== "")
    return "URLs with credentials in them are not fetched";
  if (canFetchUrl && !canFetchUrl(url))
    return `${parsed.origin} is not in security.offloadAllowlist (start mode contacts only listed URLs)`;
  return undefined;
}

/** Reads a body up to `max` bytes; undefined when it is larger. */
async function readCapped(response: Response, max: number): Promise<string | undefined> {
  const length = Number(response.headers.get("content-length"));
  if (Number.isFinite(length) && length > max) {
    await response.body?.cancel();
    return undefined;
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength > max) return undefined;
  return new TextDecoder().decode(bytes);
}

const failed = (id: string, name: string, error: SerializedError): Opcode => ({
  op: "StepFailed",
  id,
  name,
  error,
});

const errored = (id: string, name: string, error: SerializedError): Opcode => ({
  op: "StepError",
  id,
  name,
  error,
});

/**
 * Makes the offloaded request and answers with the step's outcome: `StepRun` with the result
 * (`{ status_code, headers, body }` for `step.fetch`, the provider's JSON for `step.ai.infer`),
 * `StepError` to retry, or `StepFailed` when retrying cannot help.
 */
export async function performOffload(
  step: { readonly id: string; readonly name: string },
  request: OffloadRequest,
  options: OffloadOptions,
  now: () => number,
): Promise<Opcode> {
  const { id, name } = step;
  const refused = refusal(request.url, options.canFetchUrl);
  if (refused) return failed(id, name, { name: "TROUPE_OFFLOAD_REFUSED", message: refused });
  const maxBytes = options.maxResponseBytes ?? 4 * 1024 * 1024;
  const startedAt = now();
  let response: Response;
  let text: string | undefined;
  try {
    response = await options.fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body === undefined || request.method === "GET" || request.method === "HEAD"
        ? {}
        : { body: request.body }),
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? 300_000),
    });
    text = await readCapped(response, maxBytes);
  } catch (error) {
    return errored(id, name, {
      name: "TROUPE_OFFLOAD_FAILED",
      message: `${request.method} ${request.url} failed: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
  if (text === undefined) {
    return failed(id, name, {
      name: "TROUPE_OFFLOAD_TOO_LARGE",
      message: `the response of ${request.url} is larger than ${maxBytes} bytes`,
    });
  }
  const timing = { startedAt, endedAt: now() };
  const input = [visibleRequest(request)];
  if (request.kind === "fetch") {
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    return {
      op: "StepRun",
      id,
      name,
      kind: "fetch",
      data: { status_code: response.status, headers, body: text },
      input,
      timing,
    };
  }
  if (!response.ok) {
    const error = {
      name: "TROUPE_AI_INFER_FAILED",
      message: `the model provider answered HTTP ${response.status}: ${text.slice(0, 500)}`,
    };
    // Rate limits and server errors pass; other refusals (bad key, bad body) will not.
    const retriable = response.status === 408 || response.status === 429 || response.status >= 500;
    return retriable ? errored(id, name, error) : failed(id, name, error);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return errored(id, name, {
      name: "TROUPE_AI_INFER_FAILED",
      message: "the model provider's answer is not JSON",
    });
  }
  return { op: "StepRun", id, name, kind: "aiInfer", data, input, timing };
}
