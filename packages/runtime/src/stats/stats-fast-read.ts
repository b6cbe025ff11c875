import type { IncomingMessage, ServerResponse } from "node:http";
import type { Counter, Histogram, Metrics } from "@troupe/core";
import type { Snapshot } from "@troupe/stats";
import type { Principal } from "../access/access-control.js";
import { requiredScope } from "../access/route-scopes.js";
import { grants } from "../access/scopes.js";
import { snapshotBytes } from "./snapshot-bytes.js";
import type { StatsService } from "./stats-service.js";

// Frozen, so the metrics find their series by identity instead of by a key built per read.
const GET = Object.freeze({ method: "GET" });
const GET_200 = Object.freeze({ method: "GET", status: "200" });

/**
 * The `served` of {@link createStatsFastRead}: a read counted in `troupe_http_fast_reads_total`,
 * and in `requests` and `duration` (ms) as the Hono chain counts a 200 GET.
 */
export function fastReadCounter(
  metrics: Metrics,
  requests: Counter,
  duration: Histogram,
): (started: number) => void {
  const fastReads = metrics.counter("troupe_http_fast_reads_total", {
    help: "Snapshot reads answered from L1 in front of the Hono routes",
  });
  return (started) => {
    fastReads.inc(1);
    requests.inc(1, GET_200);
    duration.observe(performance.now() - started, GET);
  };
}

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
    | ((
        authorization: string | undefined,
      ) => Principal | undefined | Promise<Principal | undefined>)
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

/** A snapshot's answer: its JSON bytes and the header list that goes with them. */
interface Answer {
  readonly bytes: Buffer;
  /** `[name, value, name, value]`: `writeHead` takes a flat list without walking an object. */
  readonly head: string[];
}

// Made once per snapshot object, like its bytes (a new version or epoch is a new object).
const answers = new WeakMap<Snapshot, Answer>();

function answerOf(snapshot: Snapshot): Answer {
  let found = answers.get(snapshot);
  if (found === undefined) {
    const bytes = snapshotBytes(snapshot);
    found = {
      bytes,
      head: ["content-type", "application/json", "content-length", String(bytes.length)],
    };
    answers.set(snapshot, found);
  }
  return found;
}

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
  // Clients send the same Host at every request: the last answer is checked first.
  let lastHost: string | undefined;
  let lastAllowed = false;
  const hostPasses = (host: string | undefined): boolean => {
    if (hostAllowed === undefined) return true;
    if (host === undefined) return false;
    if (host === lastHost) return lastAllowed;
    let allowed = hosts.get(host);
    if (allowed === undefined) {
      const hostname = hostnameOf(host);
      allowed = hostname !== undefined && hostAllowed(hostname);
      if (hosts.size >= HOSTS_REMEMBERED) hosts.clear();
      hosts.set(host, allowed);
    }
    lastHost = host;
    lastAllowed = allowed;
    return allowed;
  };

  const answer = (response: ServerResponse, actorId: string, started: number): boolean => {
    const snapshot = service.cachedSnapshot(actorId);
    if (snapshot === undefined) return false;
    const { bytes, head } = answerOf(snapshot);
    response.writeHead(200, head);
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
    const decide = (principal: Principal | undefined) => {
      if (principal !== undefined && (SCOPE === "any" || grants(principal.scopes, SCOPE))) {
        if (answer(response, actorId, started)) return;
      }
      fallback(request, response);
    };
    let principal: ReturnType<typeof principalFor>;
    try {
      principal = principalFor(headers.authorization);
    } catch {
      fallback(request, response);
      return;
    }
    // Root and signing-key bearers are known at once; a scoped token waits for the registry.
    if (principal instanceof Promise) principal.then(decide, () => fallback(request, response));
    else decide(principal);
  };
}
