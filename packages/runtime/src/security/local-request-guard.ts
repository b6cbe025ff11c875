import { isIP } from "node:net";
import type { MiddlewareHandler } from "hono";
import { guardErrorResponse } from "./error-reply.js";

/** Options of {@link localRequestGuard}. */
export interface LocalRequestGuardOptions {
  /** Host names accepted besides the built-in ones (`*` accepts any: no rebinding guard). */
  readonly allowedHosts: readonly string[];
  /** Origins (`https://tools.example.com`) accepted on state-changing requests besides the server's own (`*`: any). */
  readonly allowedOrigins: readonly string[];
  /** The interface the server binds (`server.host`): accepted as a host name too. */
  readonly bindHost?: string | undefined;
  /** Paths whose request bodies must be JSON (`Content-Type: application/json`). */
  readonly jsonOnlyPaths: readonly RegExp[];
}

/** Host names no public DNS name can be made to stand for, so DNS rebinding cannot use them. */
function isLocalName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  return (
    name === "localhost" ||
    name.endsWith(".localhost") ||
    // `.internal` is reserved for private use (host.docker.internal); a name without a dot is
    // a container or LAN name (`troupe` in docker compose), not one a web page can register.
    name.endsWith(".internal") ||
    !name.includes(".")
  );
}

/** Whether a request's host name passes the DNS-rebinding guard. */
export function isAllowedHost(
  hostname: string,
  allowedHosts: readonly string[],
  bindHost?: string,
): boolean {
  // An address literal is safe: a rebinding attack needs a name the attacker's DNS answers.
  const bare = hostname.replace(/^\[|\]$/g, "");
  if (isIP(bare) !== 0 || isLocalName(bare)) return true;
  const name = bare.toLowerCase();
  return (
    allowedHosts.includes("*") ||
    allowedHosts.some((allowed) => allowed.toLowerCase() === name) ||
    bindHost?.toLowerCase() === name
  );
}

/** Whether `origin` may make state-changing requests to a server at `ownOrigin`. */
export function isAllowedOrigin(
  origin: string,
  ownOrigin: string,
  allowedOrigins: readonly string[],
): boolean {
  if (origin === ownOrigin) return true;
  if (allowedOrigins.includes("*")) return true;
  return allowedOrigins.some((allowed) => allowed.replace(/\/$/, "") === origin);
}

function isJsonContentType(header: string | undefined): boolean {
  const type = header?.split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/json" || /^application\/[\w.+-]+\+json$/.test(type);
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The guard of `troupe dev`, which has no auth: any web page the developer opens could otherwise
 * reach it. Three checks, before any route runs:
 * - **Host** must be an address, a local name (`localhost`, `*.localhost`, `*.internal`, a name
 *   without a dot), the bound host or an allowed host: defeats DNS rebinding, where a page's own
 *   name is pointed at 127.0.0.1 to read the API same-origin. 403 otherwise.
 * - **Origin**, when a browser sends one on a state-changing request, must be the server's own or
 *   an allowed origin. SDKs and curl send none and pass. 403 otherwise.
 * - **JSON bodies only** on `jsonOnlyPaths`: a cross-site form or `text/plain` fetch cannot
 *   carry `application/json` without a CORS preflight, which Troupe never approves. 415 otherwise.
 * `/health` is left open.
 */
export function localRequestGuard(options: LocalRequestGuardOptions): MiddlewareHandler {
  return async (context, next) => {
    const path = context.req.path;
    if (path === "/health") return next();
    const url = new URL(context.req.url);
    if (!isAllowedHost(url.hostname, options.allowedHosts, options.bindHost)) {
      return guardErrorResponse(
        path,
        403,
        "FORBIDDEN",
        `host: ${JSON.stringify(url.hostname)} is not a local name; add it to security.allowedHosts (TROUPE_ALLOWED_HOSTS) to reach troupe dev by that name`,
        "host",
      );
    }
    const method = context.req.method;
    if (SAFE_METHODS.has(method)) return next();
    const origin = context.req.header("origin");
    if (origin !== undefined && !isAllowedOrigin(origin, url.origin, options.allowedOrigins)) {
      return guardErrorResponse(
        path,
        403,
        "FORBIDDEN",
        `origin: cross-site requests from ${JSON.stringify(origin)} are refused; add it to security.allowedOrigins (TROUPE_ALLOWED_ORIGINS) to allow it`,
        "origin",
      );
    }
    const hasBody = context.req.raw.body !== null && context.req.header("content-length") !== "0";
    if (
      hasBody &&
      options.jsonOnlyPaths.some((pattern) => pattern.test(path)) &&
      !isJsonContentType(context.req.header("content-type"))
    ) {
      return guardErrorResponse(
        path,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        `content-type: expected application/json, got ${JSON.stringify(context.req.header("content-type") ?? "none")}`,
        "content-type",
      );
    }
    return next();
  };
}
