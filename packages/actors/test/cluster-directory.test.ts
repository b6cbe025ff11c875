import {
  createMemoryStore,
  ManualClock,
  type Store,
  StoreConflictError,
  TroupeError,
  utf8,
} from "@troupe/core";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ClusterDirectory,
  consistentHashPlacement,
  createClusterDirectory,
  createMembership,
  type Placement,
  preferLocalPlacement,
  randomPlacement,
} from "../src/cluster/index.js";
import type { ActorAddress } from "../src/directory.js";

const LEASE_MS = 3000;
const HEARTBEAT_MS = 1000;
const START = Date.UTC(2026, 0, 1);

interface TestNode {
  readonly id: string;
  readonly clock: ManualClock;
  readonly directory: ClusterDirectory;
}

const opened: ClusterDirectory[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((directory) => directory.close().catch(() => undefined)));
});

// Each node has its own clock, so a test can freeze one node (a paused or dead process) while
// time moves on for the others.
async function startNode(
  store: Store,
  id: string,
  options: { clock?: ManualClock; placement?: Placement; capabilities?: string[] } = {},
): Promise<TestNode> {
  const clock = options.clock ?? new ManualClock(START);
  const membership = createMembership({
    store,
    clock,
    nodeId: id,
    leaseMs: LEASE_MS,
    heartbeatMs: HEARTBEAT_MS,
    refreshMs: 0,
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
  });
  await membership.join();
  const directory = createClusterDirectory({
    store,
    clock,
    membership,
    ...(options.placement ? { placement: options.placement } : {}),
  });
  opened.push(directory);
  return { id, clock, directory };
}

const counter: ActorAddress = { type: "Counter", key: "alice" };

function stateWrite(node: TestNode, epoch: number, value: number) {
  return [
    ...node.directory.fence(counter, epoch),
    { type: "set" as const, key: "state/Counter/alice", value: utf8(String(value)) },
  ];
}

describe("cluster directory", () => {
  it("lets exactly one of three nodes claim an actor, and tells the others who owns it", async () => {
    const store = createMemoryStore();
    const nodes = await Promise.all(["a", "b", "c"].map((id) => startNode(store, id)));
    const results = await Promise.allSettled(nodes.map((node) => node.directory.claim(counter)));
    const won = results.filter((result) => result.status === "fulfilled");
    expect(won).toHaveLength(1);
    const winner = nodes[results.findIndex((result) => result.status === "fulfilled")];
    for (const result of results) {
      if (result.status === "rejected") {
        expect(TroupeError.isInstance(result.reason, "STORE_CONFLICT")).toBe(true);
        expect(String(result.reason.message)).toContain(`live node "${winner?.id}"`);
      }
    }
    const located = await Promise.all(nodes.map((node) => node.directory.locate(counter)));
    const epoch = (won[0] as PromiseFulfilledResult<{ epoch: number }>).value.epoch;
    for (const ownership of located) expect(ownership).toEqual({ nodeId: winner?.id, epoch });
  });

  it("places an unowned actor with the placement and claims it on the chosen node", async () => {
    const store = createMemoryStore();
    const toB: Placement = () => "b";
    const a = await startNode(store, "a", { placement: toB });
    const b = await startNode(store, "b", { placement: toB });
    // From a: a hint that b should host it (epoch 0), nothing written yet.
    expect(await a.directory.locate(counter)).toEqual({ nodeId: "b", epoch: 0 });
    // b confirms by claiming it.
    const owned = await b.directory.locate(counter);
    expect(owned.nodeId).toBe("b");
    expect(owned.epoch).toBeGreaterThan(0);
    expect(await a.directory.locate(counter)).toEqual(owned);
  });

  it("places only on nodes that host the actor's type", async () => {
    const store = createMemoryStore();
    const a = await startNode(store, "a", { capabilities: ["Timer"] });
    await startNode(store, "b", { capabilities: ["Counter"] });
    for (let i = 0; i < 20; i++) {
      expect((await a.directory.locate({ type: "Counter", key: `k${i}` })).nodeId).toBe("b");
    }
    await expect(a.directory.locate({ type: "Nobody", key: "x" })).rejects.toMatchObject({
      code: "UNAVAILABLE",
    });
  });

  it("takes over a dead node's actor only after its lease lapsed, with a larger epoch", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(START);
    const a = await startNode(store, "a"); // a's clock stays frozen: it stops heartbeating
    const b = await startNode(store, "b", { clock });
    const first = await a.directory.claim(counter);

    await clock.advance(LEASE_MS - 1);
    await expect(b.directory.claim(counter)).rejects.toMatchObject({ code: "STORE_CONFLICT" });
    expect(await b.directory.locate(counter)).toEqual(first);

    await clock.advance(1);
    const second = await b.directory.claim(counter);
    expect(second.nodeId).toBe("b");
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(await b.directory.locate(counter)).toEqual(second);
  });

  it("rejects a paused old owner's state write after a takeover (fencing)", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(START);
    const a = await startNode(store, "a");
    const b = await startNode(store, "b", { clock });
    const old = await a.directory.claim(counter);
    await store.commit(stateWrite(a, old.epoch, 1));

    await clock.advance(LEASE_MS);
    const next = await b.directory.claim(counter);
    await store.commit(stateWrite(b, next.epoch, 2));

    // a wakes up still believing it owns the actor, and tries to save.
    expect(a.directory.ownedEpoch(counter)).toBe(old.epoch);
    const write = store.commit(stateWrite(a, old.epoch, 99));
    await expect(write).rejects.toBeInstanceOf(StoreConflictError);
    await expect(write).rejects.toMatchObject({ code: "STORE_CONFLICT" });
    expect(new TextDecoder().decode((await store.get("state/Counter/alice"))?.value)).toBe("2");
  });

  it("fails a takeover that races the owner's renewal (the dead node's record is part of the guard)", async () => {
    const store = createMemoryStore();
    // b's clock runs a lease ahead of a's: b sees a's lease lapsed while a still holds it.
    const a = await startNode(store, "a", { clock: new ManualClock(START) });
    const first = await a.directory.claim(counter);
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let gated = false;
    const gatedStore: Store = {
      ...store,
      async commit(ops) {
        if (gated) await gate;
        return store.commit(ops);
      },
    };
    const b = await startNode(gatedStore, "b", { clock: new ManualClock(START + LEASE_MS) });
    gated = true;
    // b reads the entry and a's (lapsed-looking) record, then stalls before committing...
    const takeover = b.directory.claim(counter);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // ...while a, a moment before its lease ends by its own clock, renews it.
    a.clock.set(START + LEASE_MS - 1);
    await a.directory.membership.heartbeat();
    open();
    await expect(takeover).rejects.toMatchObject({ code: "STORE_CONFLICT" });
    expect(a.directory.ownedEpoch(counter)).toBe(first.epoch);
    expect(await b.directory.locate(counter)).toEqual(first);
  });

  it("makes the old owner drop its actors when it notices its lease lapsed", async () => {
    const store = createMemoryStore();
    const a = await startNode(store, "a");
    const b = await startNode(store, "b");
    await a.directory.claim(counter);
    const lost: ActorAddress[][] = [];
    a.directory.onOwnershipLost((addresses) => lost.push([...addresses]));

    await b.clock.advance(LEASE_MS);
    const taken = await b.directory.claim(counter);
    // a resumes (its wall clock moved on meanwhile): the overdue heartbeat finds the lease gone,
    // drops the claim and rejoins under a new incarnation.
    a.clock.set(b.clock.now());
    await a.clock.advance(0);
    expect(lost).toEqual([[counter]]);
    expect(a.directory.ownedEpoch(counter)).toBeUndefined();
    expect(await a.directory.locate(counter)).toEqual(taken);
    expect(a.directory.membership.holdsLease()).toBe(true);
  });

  it("makes an owner whose clock runs behind lose its lease when another node took its actor over", async () => {
    const store = createMemoryStore();
    const a = await startNode(store, "a");
    const b = await startNode(store, "b");
    await a.directory.claim(counter);
    const lost: ActorAddress[][] = [];
    a.directory.onOwnershipLost((addresses) => lost.push([...addresses]));
    // b's clock reaches the end of a's lease; a's stays behind, so by its own clock it still
    // holds the lease and its heartbeat would renew it.
    await b.clock.advance(LEASE_MS);
    const taken = await b.directory.claim(counter);
    await a.directory.membership.heartbeat();
    // The takeover rewrote a's record, so the renewal conflicts: a drops the claim instead of
    // believing, alongside b, that it owns the actor.
    expect(lost).toEqual([[counter]]);
    expect(a.directory.ownedEpoch(counter)).toBeUndefined();
    expect(b.directory.ownedEpoch(counter)).toBe(taken.epoch);
  });

  it("keeps claims through heartbeats for as long as the node lives", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(START);
    const a = await startNode(store, "a", { clock });
    const b = await startNode(store, "b", { clock });
    const owned = await a.directory.claim(counter);
    await clock.advance(LEASE_MS * 10);
    await expect(b.directory.claim(counter)).rejects.toMatchObject({ code: "STORE_CONFLICT" });
    expect(await b.directory.locate(counter)).toEqual(owned);
    expect(a.directory.ownedEpoch(counter)).toBe(owned.epoch);
  });

  it("releases with a guard on the epoch, so a stale release never removes a newer claim", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(START);
    const a = await startNode(store, "a", { clock });
    const b = await startNode(store, "b", { clock });
    const first = await a.directory.claim(counter);
    await a.directory.release(counter, first.epoch);
    const second = await b.directory.claim(counter);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    await a.directory.release(counter, first.epoch); // stale: a no-op
    expect(await a.directory.locate(counter)).toEqual(second);
  });

  it("releases every claim and leaves the cluster on close", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(START);
    const a = await startNode(store, "a", { clock });
    const b = await startNode(store, "b", { clock });
    await a.directory.claim(counter);
    await a.directory.close();
    expect((await b.directory.membership.liveNodes({ fresh: true })).map((n) => n.nodeId)).toEqual([
      "b",
    ]);
    expect((await b.directory.claim(counter)).nodeId).toBe("b");
    await expect(a.directory.locate(counter)).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("replaces a malformed directory entry instead of failing", async () => {
    const store = createMemoryStore();
    const a = await startNode(store, "a");
    await store.commit([{ type: "set", key: "actors/d/Counter/alice", value: utf8("{oops") }]);
    expect((await a.directory.claim(counter)).nodeId).toBe("a");
  });

  it("answers repeated locates of a remote owner from its cache, bounded in size", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock(START);
    let reads = 0;
    const counting: Store = {
      ...store,
      async get(key) {
        reads++;
        return store.get(key);
      },
    };
    const b = await startNode(store, "b", { clock });
    const membership = createMembership({ store: counting, clock, nodeId: "a", capabilities: [] });
    await membership.join();
    const a = createClusterDirectory({ store: counting, clock, membership, maxCachedOwners: 2 });
    opened.push(a);
    const address = (key: string) => ({ type: "Counter", key });
    for (const key of ["x", "y", "z"]) await b.directory.claim(address(key));
    for (const key of ["x", "y", "z"]) expect((await a.locate(address(key))).nodeId).toBe("b");
    reads = 0;
    await a.locate(address("z"));
    await a.locate(address("y"));
    expect(reads).toBe(0);
    await a.locate(address("x")); // dropped when z was cached
    expect(reads).toBeGreaterThan(0);
  });

  it("fence needs a real epoch", async () => {
    const a = await startNode(createMemoryStore(), "a");
    expect(() => a.directory.fence(counter, 0)).toThrow(/epoch/);
  });
});

describe("cluster directory under any interleaving (property)", () => {
  type Step =
    | { kind: "claim"; nodes: number[]; beats: number[]; address: number }
    | { kind: "locate"; node: number; address: number }
    | { kind: "release"; node: number; address: number }
    | { kind: "advance"; ms: number }
    | { kind: "pause"; node: number }
    | { kind: "resume"; node: number }
    | { kind: "heartbeat"; node: number }
    | { kind: "close"; node: number }
    | { kind: "start" };

  const NODES = 4;
  const ADDRESSES: ActorAddress[] = [
    { type: "Counter", key: "a" },
    { type: "Counter", key: "b" },
    { type: "Room", key: "" },
  ];
  const node = fc.integer({ min: 0, max: 7 });
  const address = fc.integer({ min: 0, max: ADDRESSES.length - 1 });
  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant("claim" as const),
        nodes: fc.uniqueArray(node, { minLength: 1, maxLength: NODES }),
        // Heartbeats that run concurrently with the claims.
        beats: fc.uniqueArray(node, { maxLength: NODES }),
        address,
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("locate" as const), node, address }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("release" as const), node, address }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("advance" as const),
        ms: fc.integer({ min: 1, max: LEASE_MS * 2 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("pause" as const), node }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("resume" as const), node }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("heartbeat" as const), node }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("close" as const), node }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("start" as const) }) },
  );

  it("never yields two live claims for one address, and epochs only grow", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const store = createMemoryStore();
        let now = START;
        let started = 0;
        interface SimNode extends TestNode {
          paused: boolean;
          closed: boolean;
        }
        const nodes: SimNode[] = [];
        const start = async () => {
          const started_ = await startNode(store, `n${started++}`, {
            clock: new ManualClock(now),
          });
          nodes.push({ ...started_, paused: false, closed: false });
        };
        for (let i = 0; i < NODES; i++) await start();
        const pick = (index: number) => nodes[index % nodes.length] as SimNode;
        const topEpoch = new Map<number, number>();

        const check = async () => {
          for (const [index, target] of ADDRESSES.entries()) {
            const entry = await store.get(`actors/d/${target.type}/${target.key}`);
            // Epochs only grow: the entry's version never goes back.
            if (entry) {
              expect(entry.version).toBeGreaterThanOrEqual(topEpoch.get(index) ?? 0);
              topEpoch.set(index, entry.version);
            }
            // Nodes that run on true time: at most one believes it owns the actor.
            const believers = nodes.filter(
              (n) => !n.closed && n.directory.ownedEpoch(target) !== undefined,
            );
            expect(believers.filter((n) => !n.paused).length).toBeLessThanOrEqual(1);
            // Whoever would pass the fence is the node the directory names.
            for (const believer of believers) {
              const epoch = believer.directory.ownedEpoch(target);
              if (entry && epoch === entry.version) {
                expect(JSON.parse(new TextDecoder().decode(entry.value)).nodeId).toBe(believer.id);
              } else {
                // A stale belief: its fence rejects any write.
                await expect(
                  store.commit(believer.directory.fence(target, epoch as number)),
                ).rejects.toBeInstanceOf(StoreConflictError);
              }
            }
          }
        };

        for (const s of steps) {
          switch (s.kind) {
            case "claim": {
              const claimants = [...new Set(s.nodes.map(pick))].filter((n) => !n.closed);
              const target = ADDRESSES[s.address] as ActorAddress;
              const beating = [...new Set(s.beats.map(pick))].filter((n) => !n.closed);
              const [results] = await Promise.all([
                Promise.allSettled(claimants.map((n) => n.directory.claim(target))),
                Promise.allSettled(beating.map((n) => n.directory.membership.heartbeat())),
              ]);
              for (const result of results) {
                if (result.status === "fulfilled") {
                  expect(result.value.epoch).toBeGreaterThanOrEqual(topEpoch.get(s.address) ?? 0);
                } else {
                  expect(["STORE_CONFLICT", "UNAVAILABLE"]).toContain(result.reason.code);
                }
              }
              break;
            }
            case "locate": {
              const n = pick(s.node);
              if (n.closed) break;
              await n.directory.locate(ADDRESSES[s.address] as ActorAddress).catch((error) => {
                expect(["STORE_CONFLICT", "UNAVAILABLE"]).toContain(error.code);
              });
              break;
            }
            case "release": {
              const n = pick(s.node);
              const target = ADDRESSES[s.address] as ActorAddress;
              const epoch = n.directory.ownedEpoch(target);
              if (!n.closed && epoch !== undefined) await n.directory.release(target, epoch);
              break;
            }
            case "advance":
              now += s.ms;
              for (const n of nodes) if (!n.paused && !n.closed) await n.clock.advanceTo(now);
              break;
            case "pause":
              pick(s.node).paused = true;
              break;
            case "resume": {
              const n = pick(s.node);
              n.paused = false;
              // A paused process wakes up with the wall clock already moved on; its overdue
              // timers fire late, at the new time.
              if (!n.closed) {
                n.clock.set(now);
                await n.clock.advance(0);
              }
              break;
            }
            case "heartbeat": {
              const n = pick(s.node);
              if (!n.closed) await n.directory.membership.heartbeat().catch(() => undefined);
              break;
            }
            case "close": {
              const n = pick(s.node);
              if (!n.closed && !n.paused) {
                n.closed = true;
                await n.directory.close();
              }
              break;
            }
            case "start":
              if (nodes.length < 8) await start();
              break;
          }
          await check();
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("placement", () => {
  const nodeInfo = (nodeId: string) => ({
    nodeId,
    capabilities: ["*"],
    incarnation: nodeId,
    leaseUntil: 0,
    joinedAt: 0,
  });

  it("prefer-local keeps an actor on the calling node when it hosts the type", () => {
    const place = preferLocalPlacement(() => "fallback-choice");
    const nodes = ["n1", "n2"].map(nodeInfo);
    expect(place({ type: "T", key: "k" }, nodes, "n2")).toBe("n2");
    expect(place({ type: "T", key: "k" }, nodes, "client")).toBe("fallback-choice");
  });

  it("random placement spreads actors over every capable node", () => {
    const place = randomPlacement();
    const nodes = ["n1", "n2", "n3"].map(nodeInfo);
    const seen = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const chosen = place({ type: "T", key: String(i) }, nodes, "n1");
      seen.set(chosen, (seen.get(chosen) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(["n1", "n2", "n3"]);
    for (const count of seen.values()) expect(count).toBeGreaterThan(800);
    expect(randomPlacement(() => 0.999999)({ type: "T", key: "" }, nodes, "n1")).toBe("n3");
  });

  it("consistent hashing moves only the keys the new node wins when a node joins", () => {
    const place = consistentHashPlacement();
    const before = ["n1", "n2", "n3", "n4"].map(nodeInfo);
    const after = [...before, nodeInfo("n5")];
    const keys = Array.from({ length: 10_000 }, (_, i) => ({ type: "Counter", key: `k${i}` }));
    let moved = 0;
    const load = new Map<string, number>();
    for (const key of keys) {
      const from = place(key, before, "n1");
      const to = place(key, after, "n1");
      if (from !== to) {
        moved++;
        // A key that moves, moves to the new node: no reshuffling among the old ones.
        expect(to).toBe("n5");
      }
      load.set(to, (load.get(to) ?? 0) + 1);
    }
    // About 1/5 of the keys move (2,000); a modulo scheme would move about 80 %.
    expect(moved).toBeGreaterThan(1500);
    expect(moved).toBeLessThan(2500);
    for (const count of load.values()) expect(count).toBeGreaterThan(1500);
  });

  it("consistent hashing gives the same answer on every node and for any node order", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 1, maxLength: 8 }),
        fc.string(),
        (ids, key) => {
          const place = consistentHashPlacement();
          const nodes = ids.map(nodeInfo);
          const first = place({ type: "T", key }, nodes, ids[0] as string);
          expect(place({ type: "T", key }, [...nodes].reverse(), "other")).toBe(first);
          expect(ids).toContain(first);
        },
      ),
    );
  });
});
