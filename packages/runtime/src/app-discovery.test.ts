import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type LogFields, type Logger, ManualClock } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  createAppDiscovery,
  DISCOVERY_PATHS,
  type ProbeResult,
  probeServeUrl,
} from "./app-discovery.js";

/** A logger that keeps its lines, to assert what a user would read. */
function recordingLogger(lines: string[]): Logger {
  const logger: Logger = {
    debug: () => {},
    info: (message: string, fields?: LogFields) =>
      lines.push(`info ${message} ${String(fields?.url)}`),
    warn: (message: string, fields?: LogFields) =>
      lines.push(`warn ${message} ${String(fields?.url)}`),
    error: () => {},
    child: () => logger,
  };
  return logger;
}

/** Lets the rounds a timer started run to the end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("createAppDiscovery", () => {
  it("finds an app on a common port and path, syncs it, and logs it once", async () => {
    const clock = new ManualClock();
    const lines: string[] = [];
    const apps = new Map<string, ProbeResult>([["http://127.0.0.1:3030/x/inngest", "app"]]);
    const probed: string[] = [];
    const synced: string[] = [];
    const discovery = createAppDiscovery({
      ports: [3000, 3030, 8080],
      probe: async (url) => {
        probed.push(url);
        if (url.includes(":3000")) return "closed";
        return apps.get(url) ?? "other";
      },
      sync: async (url) => {
        synced.push(url);
        return { modified: false };
      },
      intervalMs: 5000,
      clock,
      logger: recordingLogger(lines),
    });
    await discovery.start();
    expect(discovery.found()).toEqual(["http://127.0.0.1:3030/x/inngest"]);
    expect(synced).toEqual(["http://127.0.0.1:3030/x/inngest"]);
    // A closed port costs one probe; an open one is probed path by path until an SDK answers.
    expect(probed.filter((url) => url.includes(":3000"))).toEqual([
      "http://127.0.0.1:3000/api/inngest",
    ]);
    expect(probed.filter((url) => url.includes(":8080"))).toHaveLength(DISCOVERY_PATHS.length);
    expect(lines).toEqual(["info app discovered and synced http://127.0.0.1:3030/x/inngest"]);

    // Later rounds sync it again (a restarted app's new functions), quietly.
    await clock.advance(5000);
    await settle();
    expect(synced).toHaveLength(2);
    expect(lines).toHaveLength(1);

    // An app that stops answering is dropped, and that is logged.
    apps.clear();
    await clock.advance(5000);
    await settle();
    expect(discovery.found()).toEqual([]);
    expect(lines.at(-1)).toBe(
      "info discovered app stopped answering http://127.0.0.1:3030/x/inngest",
    );
    await discovery.stop();
    expect(clock.pendingTimers).toBe(0);
  });

  it("skips its own port and apps synced by URL, and warns once when a sync fails", async () => {
    const clock = new ManualClock();
    const lines: string[] = [];
    const probed: string[] = [];
    let syncs = 0;
    const discovery = createAppDiscovery({
      ports: [3000, 8288, 4000],
      skipPorts: [8288],
      knownUrls: ["http://127.0.0.1:3000/api/inngest"],
      probe: async (url) => {
        probed.push(url);
        return url.endsWith(":4000/api/inngest") ? "app" : "other";
      },
      sync: async () => {
        syncs++;
        throw new Error("status 500: broken");
      },
      intervalMs: 1000,
      clock,
      logger: recordingLogger(lines),
    });
    await discovery.start();
    await clock.advance(1000);
    await settle();
    expect(probed.some((url) => url.includes(":8288"))).toBe(false);
    expect(probed.some((url) => url.includes(":3000"))).toBe(false);
    expect(syncs).toBe(2);
    expect(discovery.found()).toEqual([]);
    expect(lines).toEqual([
      "warn app discovered but not synced; retrying http://127.0.0.1:4000/api/inngest",
    ]);
    await discovery.stop();
  });
});

describe("probeServeUrl", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(
      servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
    );
  });
  const listen = async (sdk: boolean): Promise<number> => {
    const server = createServer((_request, response) => {
      if (sdk) response.setHeader("x-inngest-sdk", "js:v4.24.0");
      response.end("{}");
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  };

  it("tells an SDK from another server and from a closed port", async () => {
    const sdk = await listen(true);
    const other = await listen(false);
    expect(await probeServeUrl(`http://127.0.0.1:${sdk}/api/inngest`)).toBe("app");
    expect(await probeServeUrl(`http://127.0.0.1:${other}/api/inngest`)).toBe("other");
    const closedPort = await listen(false);
    await new Promise((resolve) => servers.pop()?.close(resolve));
    expect(await probeServeUrl(`http://127.0.0.1:${closedPort}/api/inngest`)).toBe("closed");
  });
});
