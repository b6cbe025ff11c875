import type { MiddlewareHandler } from "hono";
import { guardErrorResponse } from "./error-reply.js";
import { exceedsJsonDepth, MAX_JSON_DEPTH } from "./json-depth.js";

/** The body limits of {@link bodyGuard}, in bytes. */
export interface BodyLimits {
  /** Every route but those below. */
  readonly defaultBytes: number;
  /** `POST /e/:key` (the event API). */
  readonly eventBytes: number;
  /** The SDK's own calls: `/fn/register`, `/v1/checkpoint/…`. */
  readonly sdkBytes: number;
}

/** Options of {@link bodyGuard}. */
export interface BodyGuardOptions {
  /** The limits per route class. */
  readonly limits: BodyLimits;
  /** Deepest JSON nesting accepted. Default {@link MAX_JSON_DEPTH}. */
  readonly maxJsonDepth?: number;
}

const EVENT_PATH = /^\/e\/[^/]+$/;
const SDK_BODY_PATHS = [/^\/fn\/register$/, /^\/v1\/checkpoint(\/|$)/];

/** The body limit of a request to `path`. */
export function bodyLimitFor(path: string, limits: BodyLimits): number {
  if (EVENT_PATH.test(path)) return limits.eventBytes;
  if (SDK_BODY_PATHS.some((pattern) => pattern.test(path))) return limits.sdkBytes;
  return limits.defaultBytes;
}

/** Reads a body stream whole, or stops at the first byte past `limit` (undefined then). */
async function readAtMost(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const whole = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}

/**
 * Hono middleware for every route: a body larger than the route's limit answers 413 without
 * being read past the limit (a `Content-Length` over it is refused before a byte is read), and
 * a body nesting JSON deeper than `maxJsonDepth` answers 400. The body is then handed on as a
 * fresh request, so routes read it as before.
 */
export function bodyGuard(options: BodyGuardOptions): MiddlewareHandler {
  const maxDepth = options.maxJsonDepth ?? MAX_JSON_DEPTH;
  return async (context, next) => {
    const raw = context.req.raw;
    if (raw.body === null || raw.method === "GET" || raw.method === "HEAD") return next();
    const path = context.req.path;
    const limit = bodyLimitFor(path, options.limits);
    const tooLarge = () =>
      guardErrorResponse(
        path,
        413,
        "PAYLOAD_TOO_LARGE",
        `body: larger than this route's limit of ${limit} bytes`,
        "body",
      );
    const declared = Number(raw.headers.get("content-length") ?? Number.NaN);
    if (Number.isFinite(declared) && declared > limit) return tooLarge();
    const bytes = await readAtMost(raw.body, limit);
    if (bytes === undefined) return tooLarge();
    if (exceedsJsonDepth(bytes, maxDepth)) {
      return guardErrorResponse(
        path,
        400,
        "INVALID_ARGUMENT",
        `body: JSON nested deeper than ${maxDepth} levels`,
        "body",
      );
    }
    context.req.raw = new Request(raw.url, {
      method: raw.method,
      headers: raw.headers,
      body: bytes,
      signal: raw.signal,
    });
    return next();
  };
}
