import { type Decoded, SdkResponseStatus } from "./wire.js";

/**
 * Connect apps are registered with a call URL on this reserved host (`.invalid` never
 * resolves), so the HTTP driver's requests for them can be told apart and carried over the
 * app's connection instead.
 */
export const CONNECT_HOST = "connect.invalid";

/** The call URL recorded for a Connect app's functions. */
export function connectCallUrl(appName: string): string {
  return `http://${CONNECT_HOST}/${encodeURIComponent(appName)}`;
}

/** The app a Connect call URL names, or undefined for any other URL. */
export function connectAppOf(url: URL): string | undefined {
  if (url.hostname !== CONNECT_HOST) return undefined;
  return decodeURIComponent(url.pathname.slice(1));
}

/**
 * A function config synced over a connection, with its step runtimes turned into the HTTP form
 * the registry takes, pointing at {@link connectCallUrl}.
 */
export function asHttpFunction(fn: unknown, appName: string): unknown {
  if (typeof fn !== "object" || fn === null) return fn;
  const config = fn as { steps?: Record<string, Record<string, unknown>> };
  const steps: Record<string, unknown> = {};
  for (const [id, step] of Object.entries(config.steps ?? {})) {
    steps[id] = { ...step, runtime: { type: "http", url: connectCallUrl(appName) } };
  }
  return { ...config, steps };
}

/** The executor request for a call the HTTP driver would POST to `url`. */
export function executorRequestOf(
  url: URL,
  body: string,
  ids: { readonly requestId: string; readonly leaseId: string; readonly appName: string },
  runId: string,
): Decoded {
  const functionSlug = url.searchParams.get("fnId") ?? "";
  return {
    requestId: ids.requestId,
    appId: ids.appName,
    appName: ids.appName,
    functionId: functionSlug,
    functionSlug,
    stepId: url.searchParams.get("stepId") ?? "step",
    requestPayload: Buffer.from(body, "utf8"),
    runId,
    leaseId: ids.leaseId,
    jobId: ids.requestId,
  };
}

/** An HTTP reply as the driver reads it. */
export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * The HTTP reply an `SDKResponse` stands for. The SDK folds its HTTP status into three values:
 * 206 → NOT_COMPLETED, 500 → ERROR, anything else → DONE, where a non-retriable failure (a 400)
 * is told apart from a 200 by `noRetry`.
 */
export function httpReplyOf(response: Decoded): HttpReply {
  const noRetry = response.noRetry === true;
  // proto3 leaves a zero out of the wire: no status is NOT_COMPLETED.
  const sdkStatus = Number(response.status ?? SdkResponseStatus.NOT_COMPLETED);
  const status =
    sdkStatus === SdkResponseStatus.NOT_COMPLETED
      ? 206
      : sdkStatus === SdkResponseStatus.ERROR
        ? 500
        : noRetry
          ? 400
          : 200;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-inngest-sdk":
      typeof response.sdkVersion === "string" && response.sdkVersion !== ""
        ? response.sdkVersion
        : "connect",
    "x-inngest-no-retry": String(noRetry),
  };
  if (typeof response.retryAfter === "string" && response.retryAfter !== "") {
    headers["retry-after"] = response.retryAfter;
  }
  if (typeof response.requestVersion === "number" && response.requestVersion > 0) {
    headers["x-inngest-req-version"] = String(response.requestVersion);
  }
  const body =
    response.body instanceof Uint8Array ? Buffer.from(response.body).toString("utf8") : "";
  return { status, headers, body };
}
