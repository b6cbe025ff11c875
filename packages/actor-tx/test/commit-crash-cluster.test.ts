// SIGKILL of a coordinator that hosts participants, on PostgreSQL + NATS: the one-phase path
// (every participant on the coordinator's node) and the mixed path (local participants committed
// with the decision record, remote ones by two-phase commit), at every point of the commit. The
// surviving node and the restarted coordinator resolve everything without anyone asking.
import type { ChildProcess } from "node:child_process";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll, describe, it } from "vitest";
import { runParticipantCrash } from "./crash-support/participant-scenario.js";
import {
  type Backend,
  type CrashPoint,
  fanOut,
  type PlannedTransfer,
  randomTransfers,
  transfer,
} from "./crash-support/plan.js";
import { runCrashScenario } from "./crash-support/scenario.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const ACCOUNTS = 20;
const LEASE_MS = 3_000;
const schemas = scratchSchemas("actor_tx_crash", { from: import.meta.url });
const children = new Set<ChildProcess>();
beforeAll(() => schemas.assertReachable());
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await schemas.dropAll();
});

// Even accounts live on "c" (the coordinator), odd ones on "s".
const backend = (schema: string): Backend => ({
  kind: "postgres",
  url: postgresUrl,
  schema,
  natsUrl: NATS_URL,
  subjectPrefix: `troupe_test.tx_crash_${process.pid}_${schema}`,
  leaseMs: LEASE_MS,
  homes: ["c", "s"],
});

// Even accounts live on "c" (the coordinator), odd ones on "s" (the survivor).
const cases: [string, CrashPoint, PlannedTransfer][] = [
  ["one-phase", "before-commit", transfer("victim", 0, 2, 25)],
  ["one-phase", "after-commit", transfer("victim", 0, 2, 25)],
  ["mixed", "before-commit", transfer("victim", 4, 5, 25)],
  ["mixed", "after-commit", transfer("victim", 4, 5, 25)],
  ["mixed", "during-phase-2", fanOut("victim", 6, 7, 9)],
];

// Side by side (up to the project's maxConcurrency): each case waits on its node processes, its
// schema and its NATS subjects are its own.
describe.concurrent("commit paths with a local participant: the coordinator's node is SIGKILLed (PostgreSQL + NATS)", () => {
  for (const [path, point, victim] of cases) {
    it(`${path}, killed ${point}: all of the victim or nothing, the books balance`, async () => {
      const schema = schemas.fresh();
      const store = createPostgresStore({ connectionString: postgresUrl, schema });
      const transfers = randomTransfers("t", 40, ACCOUNTS, 5);
      transfers.splice(8, 0, victim);
      const [a, b] = victim.steps.map((step) => step[0]);
      try {
        const summary = await runCrashScenario({
          backend: backend(schema),
          store,
          accounts: ACCOUNTS,
          survivors: ["s"],
          coordinator: "c",
          transfers,
          victim,
          point,
          after: [
            transfer("after-1", a as number, 2, 5),
            transfer("after-2", a as number, 3, 5),
            transfer("after-3", b as number, 1, 5),
          ],
          timeoutMs: 3_000,
          children,
        });
        console.log(`${path} crash, PostgreSQL + NATS, ${summary}`);
      } finally {
        await store.close();
      }
    }, 120_000);
  }
});

describe("mixed path: the remote participant's node is SIGKILLed (PostgreSQL + NATS)", () => {
  it("after the decision, before phase 2 reaches it: the restarted node commits it, the books balance", async () => {
    const schema = schemas.fresh();
    const store = createPostgresStore({ connectionString: postgresUrl, schema });
    const victim = transfer("victim", 4, 5, 25);
    const transfers = randomTransfers("t", 40, ACCOUNTS, 5);
    transfers.splice(8, 0, victim);
    try {
      const summary = await runParticipantCrash({
        backend: backend(schema),
        store,
        accounts: ACCOUNTS,
        coordinator: "c",
        participant: "s",
        transfers,
        victim,
        after: [transfer("after-1", 4, 5, 5), transfer("after-2", 5, 6, 5)],
        timeoutMs: 3_000,
        children,
      });
      console.log(`mixed, PostgreSQL + NATS, ${summary}`);
    } finally {
      await store.close();
    }
  }, 120_000);
});
