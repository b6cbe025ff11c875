import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context, MiddlewareHandler } from "hono";
import { principalOf } from "./access-control.js";
import type { AuditLog } from "./audit-log.js";

/** Options of {@link auditTrail}. */
export interface AuditTrailOptions {
  readonly log: AuditLog;
  /** Record event sends (`/e/:key`, `POST /api/events`, `/v1/events`) too. Default false. */
  readonly events?: boolean;
}

const READS = new Set(["GET", "HEAD", "OPTIONS"]);
// SDK traffic of runs in flight: not operations anyone performs.
const SDK_TRAFFIC = [/^\/v1\/checkpoint(\/|$)/, /^\/v1\/http\/runs\//, /^\/v0\/runs\//];
const EVENT_SENDS = [/^\/e\/[^/]+$/, /^\/api\/events$/, /^\/v1\/events$/];

// Route shapes, so an operation names the route and the target names what it acted on.
const SHAPES: readonly [RegExp, string][] = [
  [/^\/api\/runs\/[^/]+\/(cancel|rerun)$/, "/api/runs/:id/$1"],
  [/^\/api\/events\/[^/]+\/replay$/, "/api/events/:id/replay"],
  [/^\/api\/functions\/[^/]+\/(invoke|pause|resume)$/, "/api/functions/:id/$1"],
  [/^\/api\/tokens\/[^/]+$/, "/api/tokens/:id"],
  [/^\/actors\/[^/]+\/[^/]+\/[^/]+$/, "/actors/:type/:key/:action"],
  [/^\/stats\/actors\/[^/]+\/subsystems\/[^/]+$/, "/stats/actors/:id/subsystems/:system"],
  [/^\/v1\/runs\/[^/]+\/cancel$/, "/v1/runs/:id/cancel"],
  [/^\/v1\/runs\/[^/]+$/, "/v1/runs/:id"],
  [/^\/v1\/cancellations\/[^/]+$/, "/v1/cancellations/:id"],
  [/^\/e\/[^/]+$/, "/e/:key"],
];

/** `<METHOD> <route shape>` of a request. */
export function operationOf(method: string, path: string): string {
  for (const [pattern, shape] of SHAPES) {
    if (pattern.test(path)) return `${method} ${path.replace(pattern, shape)}`;
  }
  return `${method} ${path}`;
}

function sourceOf(context: Context): string {
  try {
    return getConnInfo(context).remote.address ?? "unknown";
  } catch {
    return "unknown"; // app.request() in tests has no socket
  }
}

/**
 * Hono middleware, installed before authentication: after every mutating request (refused ones
 * included) it appends who, from where, what, on what and the status — one Store write after the
 * response is ready, so the operation's own commit never waits for it.
 */
export function auditTrail(options: AuditTrailOptions): MiddlewareHandler {
  return async (context, next) => {
    await next();
    const { method, path } = context.req;
    if (READS.has(method)) return;
    // MCP tool calls are audited per tool (`MCP <tool>`); only refused requests are kept here.
    if (path === "/mcp" && context.res.status < 400) return;
    if (SDK_TRAFFIC.some((pattern) => pattern.test(path))) return;
    if (!options.events && EVENT_SENDS.some((pattern) => pattern.test(path))) return;
    const principal = principalOf(context);
    await options.log.append({
      token: principal?.name ?? (context.res.status === 401 ? "unauthenticated" : "anonymous"),
      tokenId: principal?.tokenId,
      source: sourceOf(context),
      operation: operationOf(method, path),
      target: path,
      status: context.res.status,
    });
  };
}
