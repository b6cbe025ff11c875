// One node of the commit-path crash tests (test/commit-crash-*.test.ts), in its own process:
//   node --import tsx --conditions=source tx-node.ts <config.json>   (a NodeConfig, see plan.ts)
// Hosts Account and the decision log's actor and runs the transaction resolver. With `transfers`
// it coordinates them itself (so the accounts it hosts take part in one phase); with `crash` it
// SIGKILLs itself at that point of the victim's commit (or holds the victim's phase 2 until told).
// Prints "ready", then "ack <name>" or "fail <name> <code>" per transfer, "crash <name>" just
// before the kill, "hold <name>" while it holds, and "done".
import { readFileSync } from "node:fs";
import {
  type ActorAddress,
  type ActorRefJson,
  type ActorSystem,
  createActorSystem,
  createClusterNode,
  type UntypedActorRef,
} from "@troupe/actors";
import { createMemoryQueue, type Queue, type Store, systemClock, TroupeError } from "@troupe/core";
import { createNatsTransport } from "@troupe/nats";
import { createPostgresStore } from "@troupe/postgres";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { createDecisionLog, createTransactions } from "../../src/index.js";
import { Account } from "../bank.js";
import type { CrashPoint, NodeConfig } from "../crash-support/plan.js";

const configPath = process.argv[2];
if (configPath === undefined) throw new Error("usage: tx-node.ts <config.json>");
const config = JSON.parse(readFileSync(configPath, "utf8")) as NodeConfig;

const out = (line: string) => process.stdout.write(`${line}\n`);
const closers: (() => Promise<void> | void)[] = [];

let store: Store;
let queue: Queue;
let cluster: ReturnType<typeof createClusterNode> | undefined;
let transport: ReturnType<typeof createNatsTransport> | undefined;
if (config.backend.kind === "sqlite") {
  store = createSqliteStore({ path: config.backend.path });
  queue = createSqliteQueue({ path: config.backend.path, clock: systemClock, queueName: "actors" });
  closers.push(() => queue.close());
} else {
  const { url, schema, natsUrl, subjectPrefix, leaseMs, homes } = config.backend;
  store = createPostgresStore({ connectionString: url, schema });
  queue = createMemoryQueue({ queueName: `actors-${config.nodeId}`, clock: systemClock });
  transport = createNatsTransport({ servers: natsUrl, subjectPrefix, drainTimeoutMs: 100 });
  // Account k lives on homes[k % homes.length] while that node is up; anything else (and an
  // account whose home is down) on this node when it is a candidate, else on the first one.
  cluster = createClusterNode({
    store,
    transport,
    nodeId: config.nodeId,
    leaseMs,
    heartbeatMs: Math.floor(leaseMs / 4),
    placement: (address: ActorAddress, nodes, self) => {
      const ids = nodes.map((node) => node.nodeId);
      const home =
        address.type === "Account" ? homes[Number(address.key) % homes.length] : undefined;
      if (home !== undefined && ids.includes(home)) return home;
      return ids.includes(self) ? self : (ids[0] as string);
    },
  });
  const node = cluster;
  const nats = transport;
  closers.push(async () => {
    await node.close();
    await nats.close();
  });
}
closers.push(() => store.close());

const decisions = createDecisionLog({ store });
const system: ActorSystem = createActorSystem({
  store,
  queue,
  actors: [Account, decisions.actor],
  nodeId: config.nodeId,
  ...(cluster === undefined ? {} : { directory: cluster.directory, remoting: cluster.remoting }),
});

/** Transaction id → transfer name, for the fault seams. */
const names = new Map<string, string>();
const crash = config.crash;
const die = (point: CrashPoint, txId: string): void => {
  const name = names.get(txId);
  if (crash === undefined || crash.point !== point || name !== crash.victim) return;
  out(`crash ${name}`);
  process.kill(process.pid, "SIGKILL");
};

// Phase 2 of the victim. "during-phase-2": the first participant's txCommit goes through and the
// process dies once it is acknowledged; the others are never sent (the process is gone before
// they would be). "hold-phase-2": the coordinator prints "hold <victim>" and sends its txCommit
// only once "go" arrives on stdin (the test kills the participant's node in between).
let phase2Sent = false;
const go = new Promise<void>((resolve) => {
  if (crash?.point !== "hold-phase-2") return;
  let input = "";
  process.stdin.on("data", (chunk: Buffer) => {
    input += chunk.toString();
    if (input.includes("go\n")) resolve();
  });
});
/** The coordinator's calls to participants, with the victim's phase 2 held or cut short. */
const intercept = async (
  action: string,
  args: readonly unknown[],
  forward: () => Promise<unknown>,
): Promise<unknown> => {
  const txId = String(args[0]);
  const victim = action === "txCommit" && crash !== undefined && names.get(txId) === crash.victim;
  if (victim && crash.point === "hold-phase-2") {
    out(`hold ${crash.victim}`);
    await go;
    return forward();
  }
  if (!victim || crash.point !== "during-phase-2") return forward();
  if (phase2Sent) return new Promise(() => {});
  phase2Sent = true;
  const result = await forward();
  die("during-phase-2", txId);
  return result;
};
// The coordinator calls participants through references (`system.ref`), the resolver by name
// (`system.invoke`): both go through `intercept`.
const coordinatorSystem: ActorSystem = new Proxy(system, {
  get(target, name, receiver) {
    if (name === "invoke") {
      return (type: string, key: unknown, action: string, args: readonly unknown[]) =>
        intercept(action, args, () => target.invoke(type, key as never, action, args as unknown[]));
    }
    if (name === "ref") {
      return (json: ActorRefJson): UntypedActorRef => {
        const ref = target.ref(json);
        return {
          type: ref.type,
          address: ref.address,
          call: (action, ...args) => intercept(action, args, () => ref.call(action, ...args)),
          tell: (action, ...args) => ref.tell(action, ...args),
          toJSON: () => ref.toJSON(),
        };
      };
    }
    return Reflect.get(target, name, receiver);
  },
});

const transactions = createTransactions({
  system: coordinatorSystem,
  decisions,
  timeoutMs: config.timeoutMs,
  resolveEveryMs: 250,
  resolveGraceMs: config.timeoutMs,
  faults: {
    afterPrepare: (txId) => die("before-commit", txId),
    afterDecision: (txId) => die("after-commit", txId),
  },
});
closers.unshift(
  () => transactions.close(),
  () => system.close(),
);

if (cluster !== undefined && transport !== undefined) {
  await cluster.join();
  // Serve calls before saying ready: a request to ourselves through the transport answers.
  for (;;) {
    try {
      await transport.request(config.nodeId, config.nodeId, new Uint8Array(), {
        timeoutMs: 1_000,
      });
      break;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
out("ready");

let cursor = 0;
const transfers = config.transfers ?? [];
const worker = async () => {
  while (cursor < transfers.length) {
    const transfer = transfers[cursor++];
    if (transfer === undefined) return;
    try {
      await transactions.run(
        async (tx) => {
          names.set(tx.id, transfer.name);
          for (const [key, action, transferId, amount] of transfer.steps) {
            await tx.call(system.get(Account, key), action, transferId, amount);
          }
        },
        { conflictRetries: 30 },
      );
      out(`ack ${transfer.name}`);
    } catch (error) {
      out(`fail ${transfer.name} ${TroupeError.isInstance(error) ? error.code : "other"}`);
    }
  }
};
await Promise.all(Array.from({ length: config.concurrency ?? 1 }, worker));
out("done");

process.once("SIGTERM", () => {
  void (async () => {
    for (const close of closers) await close();
    process.exit(0);
  })();
});
