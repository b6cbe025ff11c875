import { createJsonCodec, createMemoryStore, ManualClock, noopLogger } from "@troupe/core";
import { describe, expect, it } from "vitest";
import { acquireWorkerIdentity, IDENTITY_TTL_MS, identityKey } from "./worker-identity-lease.js";

const setup = () => ({ store: createMemoryStore(), clock: new ManualClock(1_000_000) });
const processOn = (pid: number, alive: readonly number[], host = "box") => ({
  host,
  pid,
  isProcessAlive: (candidate: number) => alive.includes(candidate),
  logger: noopLogger,
  workerId: "box-1",
});

describe("acquireWorkerIdentity", () => {
  it("lets a restart on the same host take the identity of a dead holder at once", async () => {
    const ports = setup();
    const first = await acquireWorkerIdentity({ ...ports, ...processOn(100, [100]) });
    expect(first).toMatchObject({ workerId: "box-1", stable: true });
    // The holder was SIGKILLed: its record is fresh but pid 100 is gone.
    const restarted = await acquireWorkerIdentity({ ...ports, ...processOn(200, [200]) });
    expect(restarted).toMatchObject({ workerId: "box-1", stable: true });
  });

  it("gives a second live process a fresh identity, never the held one", async () => {
    const ports = setup();
    const first = await acquireWorkerIdentity({ ...ports, ...processOn(100, [100, 200]) });
    const second = await acquireWorkerIdentity({ ...ports, ...processOn(200, [100, 200]) });
    expect(first.stable).toBe(true);
    expect(second.stable).toBe(false);
    expect(second.workerId).toMatch(/^box-1\.[0-9a-f]{16}$/);
    const remote = await acquireWorkerIdentity({ ...ports, ...processOn(300, [], "other-host") });
    expect(remote.stable).toBe(false);
  });

  it("of two processes starting at once, exactly one takes the identity", async () => {
    const ports = setup();
    const both = await Promise.all([
      acquireWorkerIdentity({ ...ports, ...processOn(100, [100, 200]) }),
      acquireWorkerIdentity({ ...ports, ...processOn(200, [100, 200]) }),
    ]);
    expect(both.filter((lease) => lease.stable)).toHaveLength(1);
  });

  it("never gives two live runtimes of one process the same identity", async () => {
    const ports = setup();
    const first = await acquireWorkerIdentity({ ...ports, ...processOn(100, [100]) });
    const second = await acquireWorkerIdentity({ ...ports, ...processOn(100, [100]) });
    expect([first.stable, second.stable]).toEqual([true, false]);
    await first.release();
    const third = await acquireWorkerIdentity({ ...ports, ...processOn(100, [100]) });
    expect(third.stable).toBe(true);
  });

  it("renews its record while it lives and deletes it on release", async () => {
    const ports = setup();
    const held = await acquireWorkerIdentity({ ...ports, ...processOn(100, [100, 200]) });
    await ports.clock.advance(IDENTITY_TTL_MS * 3);
    // Still renewed: a live holder on another host keeps it from a newcomer.
    const remote = await acquireWorkerIdentity({ ...ports, ...processOn(300, [], "other-host") });
    expect(remote.stable).toBe(false);
    await held.release();
    expect(await ports.store.get(identityKey("box-1"))).toBeUndefined();
    const after = await acquireWorkerIdentity({ ...ports, ...processOn(300, [], "other-host") });
    expect(after.stable).toBe(true);
  });

  it("keeps the record on a release with work still in hand, and stops renewing it", async () => {
    const ports = setup();
    const held = await acquireWorkerIdentity({ ...ports, ...processOn(100, [100]) });
    await held.release({ keepRecord: true });
    const kept = await ports.store.get(identityKey("box-1"));
    expect(kept).toBeDefined();
    await ports.clock.advance(IDENTITY_TTL_MS);
    expect((await ports.store.get(identityKey("box-1")))?.version).toBe(kept?.version);
  });

  it("lets another host take an identity once a crashed holder's record lapsed", async () => {
    const ports = setup();
    // What a SIGKILLed holder leaves: a record nobody renews.
    const record = { instance: "gone", host: "box", pid: 100, renewedAt: ports.clock.now() };
    await ports.store.commit([
      {
        type: "set",
        key: identityKey("box-1"),
        value: createJsonCodec().encode({ ...record, ttlMs: IDENTITY_TTL_MS }),
      },
    ]);
    const early = await acquireWorkerIdentity({ ...ports, ...processOn(9, [], "other") });
    expect(early.stable).toBe(false);
    await ports.clock.advance(IDENTITY_TTL_MS);
    const late = await acquireWorkerIdentity({ ...ports, ...processOn(9, [], "other") });
    expect(late).toMatchObject({ workerId: "box-1", stable: true });
  });
});
