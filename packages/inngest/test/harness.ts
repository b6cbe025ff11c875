import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve as serveHono } from "@hono/node-server";
import { createMemoryQueue, createMemoryStore, type Queue, type Store } from "@troupe/core";
import { createFlows, type Flows } from "@troupe/flows";
import { waitFor } from "@troupe/testkit";
import { createInngestApi, type InngestApi, type InngestApiOptions } from "../src/index.js";

/** A Troupe server (flows + the Inngest API) on an ephemeral port. */
export interface TroupeServer {
  readonly url: string;
  readonly flows: Flows;
  readonly api: InngestApi;
  readonly store: Store;
  close(): Promise<void>;
}

/** Starts flows on the given ports (memory by default) and serves the Inngest API. */
export async function startTroupe(
  options: Partial<Omit<InngestApiOptions, "flows">> & {
    readonly store?: Store;
    readonly queue?: Queue;
    /** Start the worker only after the test synced its app (cron triggers are scheduled at start). */
    readonly deferStart?: boolean;
    /** The engine's Store key prefix. Default `"flows/"`. */
    readonly flowsPrefix?: string;
    /** Close the store and queue with the server (for ports the test made). */
    readonly closePorts?: boolean;
    /** Listen on this port (default: any free one), e.g. to restart where clients expect it. */
    readonly port?: number;
  } = {},
): Promise<TroupeServer & { startFlows(): Promise<void> }> {
  const store = options.store ?? createMemoryStore();
  const queue = options.queue ?? createMemoryQueue();
  const flows = createFlows({
    store,
    queue,
    pollIntervalMs: 10,
    ...(options.flowsPrefix ? { prefix: options.flowsPrefix } : {}),
    backoff: { baseMs: 20, maxMs: 100, jitter: 0 },
    keepProcessAlive: false,
  });
  const {
    flowsPrefix: _flowsPrefix,
    closePorts: _closePorts,
    deferStart: _deferStart,
    port: _port,
    ...apiOptions
  } = options;
  const api = createInngestApi({ mode: "dev", ...apiOptions, flows, store });
  await api.ready();
  if (!options.deferStart) await flows.start();
  const server = await new Promise<ReturnType<typeof serveHono>>((resolve) => {
    const started = serveHono(
      { fetch: api.app.fetch, port: options.port ?? 0, hostname: "127.0.0.1" },
      () => resolve(started),
    );
  });
  // Realtime subscriptions arrive as WebSocket upgrades.
  server.on("upgrade", (request, socket, head) => {
    if (!api.handleUpgrade(request, socket, head)) socket.destroy();
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    flows,
    api,
    store,
    startFlows: () => flows.start(),
    async close() {
      // Closing the API ends realtime sockets, which the server would otherwise wait for.
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
      await serverClosed;
      await flows.close();
      if (options.closePorts) {
        await queue.close();
        await store.close();
      }
    },
  };
}

/** Serves an SDK request listener (from `inngest/node`'s `serve`) on an ephemeral port. */
export async function startApp(
  listener: Parameters<typeof createServer>[1],
): Promise<{ url: string; close(): Promise<void>; server: Server }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api/inngest`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A run as `GET /v1/events/:id/runs` returns it. */
export interface RestRun {
  readonly run_id: string;
  readonly function_id: string;
  readonly status: "Running" | "Completed" | "Failed" | "Cancelled";
  readonly output: unknown;
  readonly error?: { name: string; message: string };
}

/** What an SDK user does: `GET /v1/events/:id/runs`. */
export async function runsOf(
  troupeUrl: string,
  eventId: string,
  headers: Record<string, string> = {},
): Promise<RestRun[]> {
  const response = await fetch(`${troupeUrl}/v1/events/${eventId}/runs`, { headers });
  if (!response.ok) throw new Error(`GET runs: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { data: RestRun[] }).data;
}

/** Waits until the event's runs (at least `count`, of `functionId` if given) all finished. */
export async function finishedRuns(
  troupeUrl: string,
  eventId: string,
  options: {
    count?: number;
    functionId?: string;
    timeoutMs?: number;
    headers?: Record<string, string>;
  } = {},
): Promise<RestRun[]> {
  let runs: RestRun[] = [];
  await waitFor(
    async () => {
      runs = (await runsOf(troupeUrl, eventId, options.headers)).filter(
        (run) => options.functionId === undefined || run.function_id === options.functionId,
      );
      return runs.length >= (options.count ?? 1) && runs.every((run) => run.status !== "Running");
    },
    { timeoutMs: options.timeoutMs ?? 10_000, what: `runs of event ${eventId} to finish` },
  );
  return runs;
}
