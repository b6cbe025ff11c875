import { createMemoryStore, ManualClock, type Store, TroupeError } from "@troupe/core";
import dns2 from "dns2";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  addressHost,
  type ClusterDirectory,
  createClusterDirectory,
  createDnsDiscovery,
  createMembership,
  listedNodes,
  type NodeInfo,
  type PeerDiscovery,
} from "../src/cluster/index.js";

const { Packet } = dns2;
const START = Date.UTC(2026, 0, 1);

// A real DNS server on loopback answering from `zone`, which each test rewrites: name → records.
interface ZoneRecords {
  a?: string[];
  aaaa?: string[];
  srv?: { target: string; port: number }[];
}
const zone = new Map<string, ZoneRecords>();
let queries = 0;
let failing = false;
const server = dns2.createServer({
  udp: true,
  handle: (request, send) => {
    queries++;
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    if (failing || question === undefined) {
      response.header.rcode = 2; // SERVFAIL
      send(response);
      return;
    }
    const records = zone.get(question.name.toLowerCase());
    if (records === undefined) response.header.rcode = 3; // NXDOMAIN
    // Each answer copies the question's name, type and class.
    const answer = (record: Partial<dns2.Packet.Resource>) =>
      response.answers.push(Packet.createResourceFromQuestion(question, { ttl: 5, ...record }));
    if (question.type === Packet.TYPE.A)
      for (const address of records?.a ?? []) answer({ address });
    if (question.type === Packet.TYPE.AAAA) {
      for (const address of records?.aaaa ?? []) answer({ address });
    }
    if (question.type === Packet.TYPE.SRV) {
      for (const { target, port } of records?.srv ?? []) {
        answer({ priority: 0, weight: 10, port, target });
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
  const udp = (server.addresses() as { udp: { port: number } }).udp;
  dnsServer = `127.0.0.1:${udp.port}`;
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  zone.clear();
  failing = false;
});

const PEERS = "troupe-peers.prod.svc.cluster.local";

function discovery(options: { clock?: ManualClock; recordType?: "A" | "AAAA" | "A+AAAA" | "SRV" }) {
  return createDnsDiscovery({
    name: PEERS,
    servers: [dnsServer],
    refreshMs: 1000,
    timeoutMs: 500,
    clock: options.clock ?? new ManualClock(START),
    ...(options.recordType === undefined ? {} : { recordType: options.recordType }),
  });
}

describe("DNS peer discovery against a DNS server on loopback", () => {
  it("lists the A and AAAA addresses of a headless-Service name", async () => {
    zone.set(PEERS, { a: ["10.1.0.7", "10.1.0.8"], aaaa: ["fd00::7"] });
    const found = await discovery({}).peers();
    expect([...(found ?? [])].sort()).toEqual(["10.1.0.7", "10.1.0.8", "fd00::7"]);
    zone.set(PEERS, { a: ["10.1.0.7"], aaaa: ["fd00::7"] });
    expect([...((await discovery({ recordType: "A" }).peers()) ?? [])]).toEqual(["10.1.0.7"]);
    expect([...((await discovery({ recordType: "AAAA" }).peers()) ?? [])]).toEqual(["fd00::7"]);
  });

  it("lists SRV targets by name, name:port and their addresses", async () => {
    zone.set(`_http._tcp.${PEERS}`, {
      srv: [
        { target: "pod-a.troupe-peers.prod.svc.cluster.local", port: 8288 },
        { target: "pod-b.troupe-peers.prod.svc.cluster.local", port: 8288 },
      ],
    });
    zone.set("pod-a.troupe-peers.prod.svc.cluster.local", { a: ["10.1.0.7"] });
    const found = await createDnsDiscovery({
      name: `_http._tcp.${PEERS}`,
      recordType: "SRV",
      servers: [dnsServer],
      timeoutMs: 500,
    }).peers();
    expect([...(found ?? [])].sort()).toEqual([
      "10.1.0.7",
      "pod-a.troupe-peers.prod.svc.cluster.local",
      "pod-a.troupe-peers.prod.svc.cluster.local:8288",
      "pod-b.troupe-peers.prod.svc.cluster.local",
      "pod-b.troupe-peers.prod.svc.cluster.local:8288",
    ]);
  });

  it("reuses a listing for refreshMs, then reads DNS again and sees the change", async () => {
    const clock = new ManualClock(START);
    const peers = discovery({ clock });
    zone.set(PEERS, { a: ["10.1.0.7"] });
    expect([...((await peers.peers()) ?? [])]).toEqual(["10.1.0.7"]);
    const before = queries;
    zone.set(PEERS, { a: ["10.1.0.9"] });
    expect([...((await peers.peers()) ?? [])]).toEqual(["10.1.0.7"]);
    expect(queries).toBe(before);
    await clock.advance(1000);
    expect([...((await peers.peers()) ?? [])]).toEqual(["10.1.0.9"]);
    expect(queries).toBeGreaterThan(before);
  });

  it("lists no peers for a name without records, and nothing (undefined) when DNS fails", async () => {
    expect((await discovery({}).peers())?.size).toBe(0);
    failing = true;
    expect(await discovery({}).peers()).toBeUndefined();
  });

  it("rejects a malformed name, naming the option", () => {
    expect(() => createDnsDiscovery({ name: "not a name" })).toThrow(TroupeError);
    expect(() => createDnsDiscovery({ name: "not a name" })).toThrow(/options\.name/);
  });
});

describe("placement with DNS discovery", () => {
  const opened: ClusterDirectory[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((directory) => directory.close()));
  });

  async function startNode(
    store: Store,
    clock: ManualClock,
    nodeId: string,
    address: string | undefined,
    peers: PeerDiscovery,
  ) {
    const membership = createMembership({
      store,
      clock,
      nodeId,
      leaseMs: 3000,
      heartbeatMs: 1000,
      refreshMs: 0,
      ...(address === undefined ? {} : { address }),
    });
    await membership.join();
    const directory = createClusterDirectory({ store, clock, membership, discovery: peers });
    opened.push(directory);
    return directory;
  }

  it("places new actors only on live nodes DNS lists, and follows DNS when it changes", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(START);
    const peers = discovery({ clock });
    zone.set(PEERS, { a: ["10.1.0.8"] });
    const a = await startNode(store, clock, "node-a", "10.1.0.7:8288", peers);
    await startNode(store, clock, "node-b", "http://10.1.0.8:8288", peers);
    const owners = new Set<string>();
    for (let key = 0; key < 20; key++) {
      owners.add((await a.locate({ type: "Counter", key: `k${key}` })).nodeId);
    }
    expect([...owners]).toEqual(["node-b"]);

    // node-b's pod is gone from the Service (e.g. being deleted): new actors go to node-a.
    zone.set(PEERS, { a: ["10.1.0.7"] });
    await clock.advance(1000);
    owners.clear();
    for (let key = 20; key < 40; key++) {
      owners.add((await a.locate({ type: "Counter", key: `k${key}` })).nodeId);
    }
    expect([...owners]).toEqual(["node-a"]);
  });

  it("places on every live node when DNS lists none of them or fails", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(START);
    const peers = discovery({ clock });
    zone.set(PEERS, { a: ["10.9.9.9"] });
    const a = await startNode(store, clock, "node-a", "10.1.0.7", peers);
    await startNode(store, clock, "node-b", "10.1.0.8", peers);
    const owners = new Set<string>();
    for (let key = 0; key < 40; key++) {
      owners.add((await a.locate({ type: "Counter", key: `k${key}` })).nodeId);
    }
    expect([...owners].sort()).toEqual(["node-a", "node-b"]);

    failing = true;
    await clock.advance(1000);
    owners.clear();
    for (let key = 40; key < 80; key++) {
      owners.add((await a.locate({ type: "Counter", key: `k${key}` })).nodeId);
    }
    expect([...owners].sort()).toEqual(["node-a", "node-b"]);
  });
});

describe("matching node addresses to a listing", () => {
  const node = (nodeId: string, address?: string): NodeInfo => ({
    nodeId,
    capabilities: ["*"],
    incarnation: "i",
    leaseUntil: 0,
    joinedAt: 0,
    ...(address === undefined ? {} : { address }),
  });

  it("matches by host of an IP, host:port, URL or bracketed IPv6, and leaves out nodes without one", () => {
    expect(addressHost("10.0.0.1:8288")).toBe("10.0.0.1");
    expect(addressHost("http://Pod-A.svc:8288/x")).toBe("pod-a.svc");
    expect(addressHost("[fd00::7]:8288")).toBe("fd00::7");
    expect(addressHost("fd00::7")).toBe("fd00::7");
    expect(addressHost("pod-a.svc.")).toBe("pod-a.svc");
    const listed = new Set(["10.0.0.1", "fd00::7", "pod-c.svc:9000"]);
    const nodes = [
      node("a", "10.0.0.1:8288"),
      node("b", "[fd00::7]:8288"),
      node("c", "pod-c.svc:9000"),
      node("d", "10.0.0.2"),
      node("e"),
    ];
    expect(listedNodes(nodes, listed).map((n) => n.nodeId)).toEqual(["a", "b", "c"]);
  });
});
