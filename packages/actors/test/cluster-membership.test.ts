import { createMemoryStore, ManualClock, type Store, TroupeError } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { createMembership, type LeaseLoss, type Membership } from "../src/cluster/index.js";

const LEASE_MS = 3000;

function member(store: Store, clock: ManualClock, nodeId: string, extra = {}): Membership {
  return createMembership({
    store,
    clock,
    nodeId,
    leaseMs: LEASE_MS,
    heartbeatMs: 1000,
    refreshMs: 0,
    ...extra,
  });
}

const ids = async (membership: Membership) =>
  (await membership.liveNodes({ fresh: true })).map((node) => node.nodeId);

describe("cluster membership", () => {
  it("lists live nodes with their capabilities, and drops a node that leaves", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock();
    const a = member(store, clock, "a", { capabilities: ["Counter"], address: "10.0.0.1" });
    const b = member(store, clock, "b");
    await a.join();
    await b.join();
    const nodes = await a.liveNodes();
    expect(nodes.map((node) => [node.nodeId, node.capabilities, node.address])).toEqual([
      ["a", ["Counter"], "10.0.0.1"],
      ["b", ["*"], undefined],
    ]);
    await b.close();
    expect(await ids(a)).toEqual(["a"]);
    expect(await store.get("actors/n/b")).toBeUndefined();
    await a.close();
  });

  it("keeps a heartbeating node live for many leases and drops a silent one after its lease", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock();
    const a = member(store, clock, "a");
    const silent = member(store, new ManualClock(), "silent"); // its clock never moves
    await a.join();
    await silent.join();
    await clock.advance(LEASE_MS * 20);
    expect(a.holdsLease()).toBe(true);
    expect(await ids(a)).toEqual(["a"]);
    await a.close();
  });

  it("deletes records of nodes that have been dead for ten leases", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock();
    const a = member(store, clock, "a");
    await a.join();
    await member(store, new ManualClock(), "dead").join();
    await clock.advance(LEASE_MS * 12);
    await a.liveNodes({ fresh: true });
    await clock.advance(0);
    expect(await store.get("actors/n/dead")).toBeUndefined();
    await a.close();
  });

  it("reports a lost lease when its record is changed behind its back, then rejoins", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock();
    const a = member(store, clock, "a");
    const losses: LeaseLoss[] = [];
    a.onLeaseLost((loss) => losses.push(loss));
    await a.join();
    const first = a.incarnation;
    await store.commit([{ type: "delete", key: "actors/n/a" }]);
    await clock.advance(1000);
    expect(losses).toEqual([{ incarnation: first, reason: "conflict" }]);
    expect(a.holdsLease()).toBe(true);
    expect(a.incarnation).not.toBe(first);
    expect((await store.get("actors/n/a")) !== undefined).toBe(true);
    await a.close();
  });

  it("reports a lapsed lease when heartbeats come too late", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock();
    const a = member(store, clock, "a", { rejoin: false });
    const losses: LeaseLoss[] = [];
    a.onLeaseLost((loss) => losses.push(loss));
    await a.join();
    // The process stalls past its lease; the overdue heartbeat finds the lease gone.
    clock.set(clock.now() + LEASE_MS + 1);
    await clock.advance(0);
    expect(losses.map((loss) => loss.reason)).toEqual(["lapsed"]);
    expect(a.holdsLease()).toBe(false);
    await a.close();
  });

  it("survives a Store outage longer than its lease: reports the loss, then rejoins", async () => {
    const store = createMemoryStore();
    let down = false;
    const flaky: Store = {
      ...store,
      async get(key) {
        if (down) throw new TroupeError("UNAVAILABLE", "store down");
        return store.get(key);
      },
      async commit(ops) {
        if (down) throw new TroupeError("UNAVAILABLE", "store down");
        return store.commit(ops);
      },
    };
    const clock = new ManualClock();
    const a = member(flaky, clock, "a");
    const losses: LeaseLoss[] = [];
    a.onLeaseLost((loss) => losses.push(loss));
    await a.join();
    const first = a.incarnation;
    down = true;
    await clock.advance(LEASE_MS * 3);
    expect(losses.map((loss) => loss.reason)).toEqual(["lapsed"]);
    expect(a.holdsLease()).toBe(false);
    down = false;
    await clock.advance(1000);
    expect(a.holdsLease()).toBe(true);
    expect(a.incarnation).not.toBe(first);
    await a.close();
  });

  it("waits for a live holder of the same node id to lapse before joining", async () => {
    const store = createMemoryStore();
    const clock = new ManualClock();
    await member(store, new ManualClock(), "a").join(); // an old process, now frozen
    const restarted = member(store, clock, "a");
    let joined = false;
    const joining = restarted.join().then(() => {
      joined = true;
    });
    await clock.advance(LEASE_MS - 1000);
    expect(joined).toBe(false);
    await clock.advance(1000);
    await joining;
    expect(restarted.holdsLease()).toBe(true);
    await restarted.close();
  });

  it("rejects bad options naming the option", () => {
    const store = createMemoryStore();
    const clock = new ManualClock();
    expect(() => member(store, clock, "bad id")).toThrow(/nodeId/);
    expect(() => member(store, clock, "a", { heartbeatMs: LEASE_MS })).toThrow(/heartbeatMs/);
    expect(() => member(store, clock, "a", { leaseMs: -1 })).toThrow(/leaseMs/);
  });
});
