import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineActor } from "@troupe/actors";
import { noopLogger, ulid } from "@troupe/core";
import dns2 from "dns2";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { parseRuntimeActors } from "../src/actors-routes.js";
import { parseRuntimeConfig } from "../src/config.js";
import { createRuntime, type Runtime } from "../src/runtime.js";

// Two runtimes in cluster mode on real NATS, with a real DNS server on loopback listing peers.
const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const PEERS = "troupe-peers.test.svc.cluster.local";

const Counter = defineActor({
  name: "Counter",
  key: "string",
  state: z.object({ count: z.number().int() }),
  initialState: () => ({ count: 0 }),
  actions: {
    increment: (ctx, by: number) => (ctx.state.count += by),
  },
});

let listed: string[] = [];
const { Packet } = dns2;
const server = dns2.createServer({
  udp: true,
  handle: (request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    if (question?.name === PEERS && question.type === Packet.TYPE.A) {
      for (const address of listed) {
        response.answers.push(Packet.createResourceFromQuestion(question, { ttl: 5, address }));
      }
    }
    send(response);
  },
});
let dnsServer = "";
beforeAll(async () => {
  await new Promise<void>((resolve) => {
    server.once("listening", () => resolve());
    void server.listen({ udp: { port: 0, address: "127.0.0.1" } });
  });
  dnsServer = `127.0.0.1:${(server.addresses() as { udp: { port: number } }).udp.port}`;
});
afterAll(async () => {
  await server.close();
});

const scratch: string[] = [];
const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.stop()));
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function node(storageUrl: string, nodeId: string, address: string, subjectPrefix: string) {
  const runtime = createRuntime(
    parseRuntimeConfig({ storage: { url: storageUrl }, server: { port: 0 } }),
    {
      logger: noopLogger,
      inngest: false,
      dashboardDir: false,
      actors: {
        definitions: [Counter],
        nodeId,
        cluster: {
          transportUrl: NATS_URL,
          subjectPrefix,
          address,
          discovery: { dns: PEERS, servers: [dnsServer], refreshMs: 0 },
        },
      },
    },
  );
  runtimes.push(runtime);
  const { url } = await runtime.start();
  return { runtime, url };
}

describe("actors.cluster.discovery (DNS)", () => {
  it("places new actors only on the node DNS lists, while every node serves calls", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-dns-discovery-"));
    scratch.push(dir);
    const storageUrl = `sqlite:${path.join(dir, "troupe.db")}`;
    const prefix = `t${ulid().toLowerCase()}`;
    listed = ["10.77.0.2"];
    const a = await node(storageUrl, "node-a", "10.77.0.1:8288", prefix);
    const b = await node(storageUrl, "node-b", "10.77.0.2:8288", prefix);
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    for (const key of keys) {
      const response = await fetch(`${a.url}/actors/Counter/${key}/increment`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ args: [1] }),
      });
      expect(response.status).toBe(200);
    }
    const on = (runtime: Runtime) =>
      keys.filter((key) => runtime.actors?.isActive({ type: "Counter", key }));
    expect(on(b.runtime)).toEqual(keys);
    expect(on(a.runtime)).toEqual([]);
  });

  it("rejects a bad discovery option, naming the field", () => {
    const base = { definitions: [Counter], nodeId: "n", cluster: { transportUrl: NATS_URL } };
    const withDiscovery = (discovery: unknown) =>
      parseRuntimeActors({ ...base, cluster: { ...base.cluster, discovery } });
    expect(() => withDiscovery({ dns: "not a dns name" })).toThrow(
      /actors\.cluster\.discovery\.dns: expected a DNS name/,
    );
    expect(() => withDiscovery({ dns: PEERS, recordType: "MX" })).toThrow(
      /actors\.cluster\.discovery\.recordType: expected one of A, AAAA, A\+AAAA, SRV/,
    );
    expect(() => withDiscovery({ dns: PEERS, servers: ["dns.example"] })).toThrow(
      /actors\.cluster\.discovery\.servers\.0: expected an IP address/,
    );
    expect(() => withDiscovery({ dns: PEERS, ttl: 5 })).toThrow(/actors\.cluster\.discovery/);
    expect(withDiscovery({ dns: PEERS }).cluster?.discovery).toEqual({ dns: PEERS });
  });
});
