// The bank invariant when the coordinators host the accounts (3 node processes on PostgreSQL +
// NATS): a transfer between two accounts of its coordinator's node commits in one phase, one
// with the other account elsewhere on the mixed path, one between two other nodes by two-phase
// commit. Two nodes are SIGKILLed at an arbitrary moment (whatever phase their transfers are in)
// and restarted; the books must balance.
import type { ChildProcess } from "node:child_process";
import { createPostgresStore } from "@troupe/postgres";
import { testPostgresUrl as postgresUrl, scratchSchemas } from "@troupe/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditBooks } from "./bank.js";
import { committedRecords, readBooks, START, until } from "./crash-support/books.js";
import { type Backend, type PlannedTransfer, randomTransfers } from "./crash-support/plan.js";
import { startTxNode, stopTxNode, type TxNode } from "./crash-support/tx-node-process.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const ACCOUNTS = 100;
const PER_NODE = Number(process.env.BANK_HOSTING_TRANSFERS ?? 150);
const schemas = scratchSchemas("actor_tx_hosting", { from: import.meta.url });
const children = new Set<ChildProcess>();
beforeAll(() => schemas.assertReachable());
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await schemas.dropAll();
});

describe("bank invariant, coordinators hosting the accounts (PostgreSQL + NATS), 2 SIGKILLs", () => {
  it(
    "keeps the books: total unchanged, nothing half-applied, every acknowledged transfer once",
    async () => {
      const schema = schemas.fresh();
      const store = createPostgresStore({ connectionString: postgresUrl, schema });
      const ids = ["n1", "n2", "n3"];
      const backend: Backend = {
        kind: "postgres",
        url: postgresUrl,
        schema,
        natsUrl: NATS_URL,
        subjectPrefix: `troupe_test.tx_hosting_${process.pid}_${Date.now().toString(36)}`,
        leaseMs: 3_000,
        homes: ids,
      };
      const planned = new Map<string, PlannedTransfer>();
      const live: TxNode[] = [];
      const all: TxNode[] = [];
      const start = async (nodeId: string, seed: number, count: number) => {
        const transfers = randomTransfers(`${nodeId}-${seed}-`, count, ACCOUNTS, seed);
        for (const t of transfers) planned.set(t.name, t);
        const node = await startTxNode(
          { nodeId, backend, timeoutMs: 3_000, concurrency: 4, transfers },
          children,
        );
        live.push(node);
        all.push(node);
        return node;
      };
      try {
        const nodes = await Promise.all(ids.map((id, i) => start(id, i + 1, PER_NODE)));
        // Kill n1 once it acknowledged a fifth of its transfers, restart it with new ones; then
        // the same for n2. The kill lands wherever their in-flight transfers are. A restart is
        // not awaited before the next kill: a node process starting on a loaded machine takes
        // seconds, in which n2 could finish all its transfers.
        const restarts: Promise<TxNode>[] = [];
        for (const [index, seed] of [
          [0, 11],
          [1, 12],
        ] as const) {
          const victim = nodes[index] as TxNode;
          await until(
            async () => victim.acked().length,
            (acked) => acked >= PER_NODE / 5 || victim.lines.includes("done"),
            `${ids[index]} to acknowledge transfers`,
            10 * PER_NODE,
          );
          expect(victim.lines, `${ids[index]} finished before its kill`).not.toContain("done");
          await stopTxNode(victim);
          live.splice(live.indexOf(victim), 1);
          restarts.push(start(ids[index] as string, seed, PER_NODE / 3));
        }
        await Promise.all(restarts);
        await Promise.all(live.map((node) => node.printed("done")));
        const acked = new Set(
          all.flatMap((node) => node.acked().flatMap((name) => planned.get(name)?.ids ?? [])),
        );
        const failed = all.flatMap((node) => node.lines.filter((l) => l.startsWith("fail ")));
        // Nobody calls the accounts: the survivors' timers and resolvers settle them.
        await until(
          () => readBooks(store, ACCOUNTS).then((books) => books.locked),
          (locked) => locked.length === 0,
          "every prepared account to resolve",
        );
        await until(
          () => committedRecords(store),
          (open) => open.length === 0,
          "the resolvers to finish every committed record",
        );
        const books = await readBooks(store, ACCOUNTS);
        const audit = auditBooks(books.states, ACCOUNTS * START, acked);
        expect(audit.problems).toEqual([]);
        expect(acked.size).toBeGreaterThan(PER_NODE);
        console.log(
          `bank, coordinators hosting accounts: ${planned.size} planned, ${acked.size} acknowledged, ${audit.applied.size} applied, ${failed.length} failed, 2 SIGKILLs`,
        );
      } finally {
        await Promise.all(live.map((node) => stopTxNode(node, "SIGTERM")));
        await store.close();
      }
    },
    Math.max(240_000, PER_NODE * 400),
  );
});
