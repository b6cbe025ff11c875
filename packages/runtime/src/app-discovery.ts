import type { Clock, Logger } from "@troupe/core";
import { createRoundLoop } from "./round-loop.js";

/**
 * The local ports an SDK app usually listens on (web frameworks' and dev servers' defaults), in
 * the order they are probed. The same set Inngest's dev server scans.
 */
export const DISCOVERY_PORTS: readonly number[] = [
  3000, 3030, 3001, 3002, 3003, 3004, 3005, 4000, 5000, 5173, 8000, 8080, 8081, 8888,
];

/** The paths an SDK's `serve()` handler is usually mounted at, in the order they are probed. */
export const DISCOVERY_PATHS: readonly string[] = [
  "/api/inngest",
  "/x/inngest",
  "/.netlify/functions/inngest",
  "/.redwood/functions/inngest",
];

/** What one probe of a candidate serve URL found. */
export type ProbeResult =
  /** An SDK answered there. */
  | "app"
  /** Something answered, but not an SDK (try the next path on this port). */
  | "other"
  /** Nothing listens on the port (skip its other paths this round). */
  | "closed";

/** Options of {@link createAppDiscovery}. */
export interface AppDiscoveryOptions {
  /** Host to probe. Default `127.0.0.1`. */
  readonly host?: string;
  /** Ports to probe. Default {@link DISCOVERY_PORTS}. */
  readonly ports?: readonly number[];
  /** Paths to probe on each port. Default {@link DISCOVERY_PATHS}. */
  readonly paths?: readonly string[];
  /** Ports never probed: the runtime's own, say. */
  readonly skipPorts?: readonly number[];
  /** Serve URLs synced by other means (`-u`): never synced again from here. */
  readonly knownUrls?: readonly string[];
  /** Probes one serve URL. Default {@link probeServeUrl}. */
  readonly probe?: (url: string) => Promise<ProbeResult>;
  /** Syncs an app found at `url`; rejects when it could not. */
  readonly sync: (url: string) => Promise<unknown>;
  /** Time between rounds. */
  readonly intervalMs: number;
  /** Timers come from here. */
  readonly clock: Clock;
  /** Where found and lost apps are logged. */
  readonly logger: Logger;
}

/** Looks for SDK apps on common local ports and paths, and keeps the ones it finds synced. */
export interface AppDiscovery {
  /** Runs one round now, then one every `intervalMs`. */
  start(): Promise<void>;
  /** Cancels the next round and waits for a running one. */
  stop(): Promise<void>;
  /** The serve URLs found and synced, in the order they were found. */
  found(): string[];
}

/**
 * `GET url` with a short timeout: an SDK's serve handler answers with an `x-inngest-sdk` header.
 * A refused connection reports the port closed.
 */
export async function probeServeUrl(url: string, timeoutMs = 1000): Promise<ProbeResult> {
  try {
    const response = await fetch(url, {
      method: "GET",
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    await response.body?.cancel();
    return response.headers.has("x-inngest-sdk") ? "app" : "other";
  } catch (error) {
    const code = (error as { cause?: { code?: unknown } }).cause?.code;
    return code === "ECONNREFUSED" || code === "ECONNRESET" ? "closed" : "other";
  }
}

/**
 * Auto-discovery for `troupe dev`: each round probes every port and path (a closed port costs one
 * refused connection), syncs every app it finds, and logs an app when it is first found and when
 * it stops answering. Apps found earlier are synced again each round, so a restarted app's new
 * functions are picked up; re-syncs that change nothing stay quiet.
 */
export function createAppDiscovery(options: AppDiscoveryOptions): AppDiscovery {
  const host = options.host ?? "127.0.0.1";
  const skip = new Set(options.skipPorts ?? []);
  const known = new Set(options.knownUrls ?? []);
  const ports = (options.ports ?? DISCOVERY_PORTS).filter((port) => !skip.has(port));
  const paths = options.paths ?? DISCOVERY_PATHS;
  const probe = options.probe ?? ((url: string) => probeServeUrl(url));
  const found = new Map<string, { synced: boolean }>();

  const probePort = async (port: number): Promise<string | undefined> => {
    for (const servePath of paths) {
      const url = `http://${host}:${port}${servePath}`;
      if (known.has(url)) return undefined;
      const result = await probe(url);
      if (result === "app") return url;
      if (result === "closed") return undefined;
    }
    return undefined;
  };

  const syncFound = async (url: string) => {
    const before = found.get(url);
    try {
      const result = await options.sync(url);
      found.set(url, { synced: true });
      const modified = (result as { modified?: unknown } | undefined)?.modified === true;
      if (!before?.synced) options.logger.info("app discovered and synced", { url });
      else if (modified) options.logger.info("discovered app synced again with changes", { url });
    } catch (error) {
      found.set(url, { synced: false });
      // The first failure is worth a line; a retry every round is not.
      if (before === undefined) {
        const message = error instanceof Error ? error.message : String(error);
        options.logger.warn("app discovered but not synced; retrying", { url, error: message });
      }
    }
  };

  const round = async () => {
    const hits = await Promise.all(ports.map(probePort));
    const live = new Set(hits.filter((url): url is string => url !== undefined));
    for (const [url, state] of [...found]) {
      if (live.has(url)) continue;
      found.delete(url);
      if (state.synced) options.logger.info("discovered app stopped answering", { url });
    }
    await Promise.all([...live].map(syncFound));
  };

  const loop = createRoundLoop({ round, intervalMs: options.intervalMs, clock: options.clock });

  return {
    start: () => loop.start(),
    stop: () => loop.stop(),
    found: () => [...found].filter(([, state]) => state.synced).map(([url]) => url),
  };
}
