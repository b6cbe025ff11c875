import { randomBytes } from "node:crypto";
import type { ManualClock } from "@troupe/core";
import { afterEach } from "vitest";
import type { EnginePorts, EnginePortsFactory } from "./engine-suite.js";

/** Ports opened for one test, with the key prefix that keeps its data apart. */
export interface OpenedPorts {
  readonly id: string;
  readonly ports: EnginePorts;
  readonly prefix: string;
}

/**
 * Removes a test's data through the ports: its keys, and every queue item (time jumps far ahead
 * so delayed items become claimable, then each is acknowledged).
 */
async function removeTestData(ports: EnginePorts, clock: ManualClock, prefix: string) {
  for (;;) {
    const entries = await ports.store.list({ prefix, limit: 500 });
    if (entries.length === 0) break;
    await ports.store.commit(entries.map((entry) => ({ type: "delete", key: entry.key }) as const));
  }
  clock.set(clock.now() + 20 * 366 * 86_400_000);
  for (;;) {
    const leases = await ports.queue.claim({ limit: 500, leaseMs: 60_000 });
    if (leases.length === 0) break;
    for (const lease of leases) await ports.queue.ack(lease);
  }
}

/**
 * Per-test ports for the flows suites, called inside a `describe`: `open(clock)` makes fresh ports
 * with a unique id and key prefix (servers are shared by several runs), and each test's data is
 * removed and its ports closed after it. `tag` tells the suites' ids apart.
 */
export function useSuitePorts(factory: EnginePortsFactory, tag: string) {
  const runTag = `${tag}${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  let counter = 0;
  const opened: { ports: EnginePorts; clock: ManualClock; prefix: string }[] = [];
  afterEach(async () => {
    for (const { ports, clock, prefix } of opened.splice(0)) {
      await removeTestData(ports, clock, prefix);
      await ports.close();
    }
  });
  return {
    async open(clock: ManualClock): Promise<OpenedPorts> {
      counter++;
      const id = `${runTag}_${counter}`;
      const ports = await factory({ id, clock });
      const prefix = `flows/${id}/`;
      opened.push({ ports, clock, prefix });
      return { id, ports, prefix };
    },
    /** The key prefix of the ports opened last. */
    lastPrefix: () => opened.at(-1)?.prefix ?? "",
  };
}
