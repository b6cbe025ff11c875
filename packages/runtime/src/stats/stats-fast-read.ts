import type { IncomingMessage, ServerResponse } from "node:http";
import type { Principal } from "../access/access-control.js";
import { requiredScope } from "../access/route-scopes.js";
import { grants } from "../access/scopes.js";
import { snapshotBytes } from "./snapshot-bytes.js";
import type { StatsService } from "./stats-service.js";

/** A `node:http` request listener: what the fast path hands every request it does not answer. */
export type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** Options of {@link createStatsFastRead}. */
export interface StatsFastReadOptions {
  readonly service: StatsService;
  /**
   * The principal of an `Authorization` header (see `principalResolver`); undefined when the
   * server has no auth, so every read passes as the Hono chain lets it.
   */
  readonly principalFor?:
    | ((authorization: string | undefined) => Promise<Principal | undefined>)
    | undefined;
  /** The dev-mode host check (`isAllowedHost`); undefined when the server runs without it. */
  readonly hostAllowed?: ((hostname: string) => boolean) | undefined;
  /** True while the runtime drains: every request then goes to the Hono chain. */
  readonly draining: () => boolean;
  /** Called once per answered read with `performance.now()` at its start (metrics). */
  readonly served: (started: number) => void;
}

// `GET /stats/actors/:id`, the id as the stats routes accept it, and no query string.
const SNAPSHOT_PATH = /^\/stats\/actors\/([A-Za-z0-9._:@-]{1,256})$/;
const SCOPE = requiredScope("GET", "/stats/actors/x");
const HOSTS_REMEMBERED = 64;

function hostnameOf(host: string): string | undefined {
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return undefined;
  }
}

/**
 * A `node:http` listener in front of the Hono app for the one hot read, `GET /stats/actors/:id`
 * of a snapshot in L1: it answers with the snapshot's cached JSON bytes, without building the web
 * `Request`/`Response` objects the Hono chain needs (which cost about as much as the read).
 *
 * It answers only what the Hono chain would answer 200 with the same body: a GET with no body
 * and no query string, a valid actor id whose snapshot is in L1, not while draining, a host that
 * passes the dev-mode host check, and (with auth) a token that holds `stats:read`. Anything else
 * — a miss, an unknown actor, a bad id, a missing or insufficient token, a refused host — goes to
 * `fallback`, the Hono chain, which answers it (and audits or counts it) as before.
 */
export function createStatsFastRead(
  options: StatsFastReadOptions,
): (request: IncomingMessage, response: ServerResponse, fallback: RequestListener) => void {
  const { service, principalFor, hostAllowed } = options;
  const hosts = new Map<string, boolean>();
  const hostPasses = (host: string | undefined): boolean => {
    if (hostAllowed === undefined) return true;
    if (host === undefined) return false;
    let allowed = hosts.get(host);
    if (allowed === undefined) {
      const hostname = hostnameOf(host);
      allowed = hostname !== undefined && hostAllowed(hostname);
      if (hosts.size >= HOSTS_REMEMBERED) hosts.clear();
      hosts.set(host, allowed);
    }
    return allowed;
  };

  const answer = (response: ServerResponse, actorId: string, started: number): boolean => {
    const snapshot = service.cachedSnapshot(actorId);
    if (snapshot === undefined) return false;
    const bytes = snapshotBytes(snapshot);
    response.writeHead(200, {
      "content-type": "application/json",
      "content-length": bytes.length,
    });
    response.end(bytes);
    options.served(started);
    return true;
  };

  return (request, response, fallback) => {
    const url = request.url;
    const headers = request.headers;
    const matched =
      request.method === "GET" &&
      url !== undefined &&
      headers["content-length"] === undefined &&
      headers["transfer-encoding"] === undefined &&
      !options.draining()
        ? SNAPSHOT_PATH.exec(url)
        : null;
    if (matched === null || !hostPasses(headers.host)) {
      fallback(request, response);
      return;
    }
    const started = performance.now();
    const actorId = matched[1] as string;
    if (principalFor === undefined) {
      if (!answer(response, actorId, started)) fallback(request, response);
      return;
    }
    principalFor(headers.authorization).then(
      (principal) => {
        if (principal !== undefined && grants(principal.scopes, SCOPE)) {
          if (answer(response, actorId, started)) return;
        }
        fallback(request, response);
      },
      () => fallback(request, response),
    );
  };
}
