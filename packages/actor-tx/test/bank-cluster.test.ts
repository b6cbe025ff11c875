import type { ChildProcess } from "node:child_process";
import { createActorSystem, createClusterNode } from "@troupe/actors";
import { createMemoryQueue, systemClock, TroupeError } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDecisionLog, createTransactions } from "../src/index.js";
import { Account, auditBooks, planTransfers } from "./bank.js";
import { kill, startNode } from "./cluster-support/node-process.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const LEASE_MS = 3_000;
const ACCOUNTS = 100;
// CI size; BANK_TRANSFERS=10000 for the full run (minutes on a loaded machine).
const TRANSFERS = Number(process.env.BANK_TRANSFERS ?? 400);
/** Transfers made after the kills, once the cluster has settled: every one must commit. */
const RECOVERY_TRANSFERS = 40;

const schemas = scratchSchemas("actor_tx_bank", { from: import.meta.url });
const children = new Set<ChildProcess>();
beforeAll(() => schemas.assertReachable());
afterAll(async () => {
  await Promise.all([...children].map((child) => kill(child)));
  await schemas.dropAll();
});

describe("bank invariant across 3 node processes (PostgreSQL + NATS) with SIGKILL and restart", () => {
  it("keeps the books: total unchanged, nothing half-applied, every acknowledged transfer once", async () => {
    const schema = schemas.fresh();
    const subjectPrefix = `troupe_test.actor_tx_${process.pid}_${Date.now().toString(36)}`;
    const ids = ["bank-1", "bank-2", "bank-3"];
    const args = (id: string) => [
      id,
      postgresUrl,
      schema,
      NATS_URL,
      subjectPrefix,
      String(LEASE_MS),
    ];
    const nodes = await Promise.all(ids.map((id) => startNode(args(id), children)));
    const store = createPostgresStore({ connectionString: postgresUrl, schema });
    const transport = createNatsTransport({ servers: NATS_URL, subjectPrefix });
    const client = createClusterNode({
      store,
      transport,
      nodeId: "bank-client",
      capabilities: [],
      leaseMs: LEASE_MS,
      heartbeatMs: LEASE_MS / 4,
    });
    const decisions = createDecisionLog({ store });
    const system = createActorSystem({
      store,
      queue: createMemoryQueue({ queueName: "actors-bank-client", clock: systemClock }),
      actors: [Account, decisions.actor],
      nodeId: "bank-client",
      directory: client.directory,
      remoting: client.remoting,
    });
    await client.join();
    const transactions = createTransactions({
      system,
      decisions,
      timeoutMs: 5_000,
      resolveGraceMs: 0,
    });
    const plan = planTransfers(TRANSFERS, ACCOUNTS, 7);
    const acked = new Set<string>();
    const failures = new Map<string, number>();
    const killAt = new Set([Math.floor(TRANSFERS / 3), Math.floor((2 * TRANSFERS) / 3)]);
    const kills: Promise<void>[] = [];
    let cursor = 0;
    const killAndRestart = async (index: number) => {
      const victim = index % ids.length;
      const id = ids[victim] as string;
      await kill(nodes[victim] as ChildProcess);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      nodes[victim] = await startNode(args(id), children);
    };
    try {
      const worker = async () => {
        while (cursor < plan.length) {
          const index = cursor++;
          const transfer = plan[index];
          if (transfer === undefined) return;
          if (killAt.has(index)) kills.push(killAndRestart(index));
          try {
            await transactions.run(
              async (tx) => {
                await tx.call(
                  system.get(Account, transfer.from),
                  "withdraw",
                  transfer.id,
                  transfer.amount,
                );
                await tx.call(
                  system.get(Account, transfer.to),
                  "deposit",
                  transfer.id,
                  transfer.amount,
                );
              },
              { conflictRetries: 30 },
            );
            acked.add(transfer.id);
          } catch (error) {
            const code = TroupeError.isInstance(error) ? error.code : "other";
            failures.set(code, (failures.get(code) ?? 0) + 1);
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      await Promise.all(kills);

      // Every survivor resolves what the kills left in doubt: finish committed records, then
      // make each account settle its prepared transaction (if any) before it is read.
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 500));
      const settle = async <T>(call: () => Promise<T>): Promise<T> => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await call();
          } catch (error) {
            if (attempt > 60) throw error;
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
        }
      };
      await settle(() => transactions.resolveNow());
      for (let key = 0; key < ACCOUNTS; key++) {
        await settle(() => system.invoke("Account", key, "txResolve", []));
        expect(await settle(() => system.invoke("Account", key, "txLock", []))).toBeNull();
      }
      // How many transfers a kill fails depends on how long the restarted process takes to come
      // up (tens of seconds on a loaded machine), so the chaotic phase only has to make progress.
      // Once the cluster has settled, every transfer must go through.
      const ackedDuringKills = acked.size;
      expect(ackedDuringKills, JSON.stringify([...failures])).toBeGreaterThan(0);
      const after = planTransfers(RECOVERY_TRANSFERS, ACCOUNTS, 11).map((transfer) => ({
        ...transfer,
        id: `after-${transfer.id}`,
      }));
      for (const transfer of after) {
        await transactions.run(
          async (tx) => {
            await tx.call(
              system.get(Account, transfer.from),
              "withdraw",
              transfer.id,
              transfer.amount,
            );
            await tx.call(
              system.get(Account, transfer.to),
              "deposit",
              transfer.id,
              transfer.amount,
            );
          },
          { conflictRetries: 30 },
        );
        acked.add(transfer.id);
      }
      const states = [];
      for (let key = 0; key < ACCOUNTS; key++) {
        const account = system.get(Account, key);
        states.push({
          balance: await settle(() => account.balance()),
          applied: await settle(() => account.applied()),
        });
      }
      const audit = auditBooks(states, ACCOUNTS * 1_000, acked);
      expect(audit.problems).toEqual([]);
      expect(acked.size).toBe(ackedDuringKills + RECOVERY_TRANSFERS);
      console.log(
        `bank on 3 processes: ${TRANSFERS} transfers, ${acked.size} acknowledged, ${audit.applied.size} applied, failures ${JSON.stringify([...failures])}, 2 SIGKILLs`,
      );
    } finally {
      transactions.close();
      await system.close();
      await client.close();
      await transport.close();
      await Promise.all(nodes.map((node) => kill(node, "SIGTERM")));
      await store.close();
    }
  }, 240_000);
});
