// The fault soak: 3 `troupe start` nodes on PostgreSQL + NATS under steady load (events to a
// flow, idempotent actor increments) while one node at a time is SIGKILLed and restarted; then
// every acknowledged event must have exactly one completed run, every counter must hold exactly
// its acknowledged increments, and no single call may have waited longer than 2 × the lease.
// Run by fault-soak.test.ts (short) and bench/fault-soak.ts (long).
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { createFlows } from "@troupe/flows";
import pg from "pg";
import { openStorage } from "../src/storage.js";
import { createSoakNode, type SoakNode } from "./fault-soak-nodes.js";
import { SOAK_SECRETS } from "./fault-soak-settings.js";

/** What {@link runFaultSoak} takes. */
export interface FaultSoakOptions {
  readonly postgresUrl: string;
  readonly natsUrl: string;
  /** How long load and kills go on, ms. */
  readonly durationMs: number;
  /** Mean pause between a restarted node listening and the next kill, ms (±50% jitter). */
  readonly killEveryMs: number;
  readonly nodes?: number;
  readonly eventSenders?: number;
  readonly actorCallers?: number;
  readonly counters?: number;
  /** The actors cluster lease (default 5000); the bound on one call's wait is twice this. */
  readonly actorLeaseMs?: number;
  readonly flowsLeaseMs?: number;
  /** How long after the load stops the runs may take to finish. */
  readonly settleTimeoutMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** What the soak saw. Every list of problems is empty on a pass. */
export interface FaultSoakReport {
  readonly loadMs: number;
  readonly kills: number;
  readonly eventsAcked: number;
  /** Events whose send was never acknowledged (every attempt failed). */
  readonly eventsUnacked: number;
  readonly eventAttempts: number;
  readonly runsCompleted: number;
  readonly actorCallsAcked: number;
  readonly actorCallsUnacked: number;
  readonly actorAttempts: number;
  /** The longest single HTTP call (one attempt), events and actor calls, ms. */
  readonly maxCallWaitMs: number;
  /** Which call that was and how it ended (`POST /actors/Counter… → 200`). */
  readonly slowestCall: string;
  /** The longest acknowledged actor increment including its retries, ms. */
  readonly maxIncrementMs: number;
  readonly callWaitBoundMs: number;
  /** The longest a killed node took to listen again, ms. */
  readonly maxRestartMs: number;
  readonly eventProblems: readonly string[];
  readonly counterProblems: readonly string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MAX_ATTEMPTS = 40;

/** Runs the soak; resolves to its report (it does not judge: callers assert on the lists). */
export async function runFaultSoak(options: FaultSoakOptions): Promise<FaultSoakReport> {
  const tag = randomBytes(5).toString("hex");
  const schema = `soak_${tag}`;
  const actorLeaseMs = options.actorLeaseMs ?? 5000;
  const nodes: SoakNode[] = Array.from({ length: options.nodes ?? 3 }, (_, index) =>
    createSoakNode({
      nodeId: `soak-${tag}-${index}`,
      postgresUrl: options.postgresUrl,
      schema,
      natsUrl: options.natsUrl,
      subjectPrefix: `soak${tag}`,
      actorLeaseMs,
      flowsLeaseMs: options.flowsLeaseMs ?? 10_000,
    }),
  );
  try {
    return await soak(options, nodes, schema, tag);
  } finally {
    // Also after a failed start: no node outlives the soak, nor its schema.
    await Promise.all(
      nodes.map(async (node) => {
        const stopped = node.stop();
        const late = await Promise.race([
          stopped.then(() => false),
          sleep(20_000).then(() => true),
        ]);
        if (late) await node.kill();
      }),
    );
    const client = new pg.Client({ connectionString: options.postgresUrl });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.end();
  }
}

async function soak(
  options: FaultSoakOptions,
  nodes: readonly SoakNode[],
  schema: string,
  tag: string,
): Promise<FaultSoakReport> {
  const log = options.log ?? (() => {});
  const actorLeaseMs = options.actorLeaseMs ?? 5000;
  const callWaitBoundMs = 2 * actorLeaseMs;
  const auth = { authorization: `Bearer ${SOAK_SECRETS.token}` };
  let maxCallWaitMs = 0;
  let slowestCall = "";

  /** One HTTP call to a live node; undefined when it failed to answer. */
  const call = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    let url = liveUrl();
    while (url === undefined) {
      await sleep(50);
      url = liveUrl();
    }
    const started = performance.now();
    let outcome = "no answer";
    try {
      const response = await fetch(`${url}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
        // Far past the bound: a call hanging this long is reported, not waited for forever.
        signal: AbortSignal.timeout(callWaitBoundMs * 3),
      });
      const json = (await response.json().catch(() => undefined)) as unknown;
      const code = (json as { error?: { code?: unknown } } | undefined)?.error?.code;
      outcome = `${response.status}${typeof code === "string" ? ` ${code}` : ""}`;
      return { status: response.status, json };
    } catch (error) {
      outcome = error instanceof Error ? error.name : "error";
      return undefined;
    } finally {
      const waited = performance.now() - started;
      if (waited > maxCallWaitMs) {
        maxCallWaitMs = waited;
        slowestCall = `POST ${path.split("/").slice(0, 3).join("/")}… → ${outcome}`;
      }
    }
  };
  const liveUrl = () => {
    const live = nodes.flatMap((node) => node.url() ?? []);
    return live[Math.floor(Math.random() * live.length)];
  };

  log(`starting ${nodes.length} nodes (schema ${schema})`);
  await Promise.all(nodes.map((node) => node.start()));
  const loadStarted = performance.now();
  const stopAt = loadStarted + options.durationMs;
  const running = () => performance.now() < stopAt;

  // Events: each has a dedupe id, retried until acknowledged.
  // Each soak has a schema of its own, so one name serves.
  const eventName = "soak/event";
  const ackedEvents = new Set<number>();
  const unackedEvents = new Set<number>();
  let nextEvent = 0;
  let eventAttempts = 0;
  const sendEvents = async () => {
    while (running()) {
      const n = nextEvent++;
      let acked = false;
      for (let attempt = 0; attempt < MAX_ATTEMPTS && !acked; attempt++) {
        eventAttempts++;
        const reply = await call(`/e/${SOAK_SECRETS.eventKey}`, {
          name: eventName,
          data: { n },
          id: `${tag}-${n}`,
        });
        acked = reply?.status === 200;
        if (!acked) await sleep(100);
      }
      (acked ? ackedEvents : unackedEvents).add(n);
    }
  };

  // Actor increments: each names its operation, retried (same name) until acknowledged.
  const counters = options.counters ?? 8;
  const ackedOps = new Map<string, string>(); // op -> counter key
  const triedOps = new Map<string, string>();
  let actorAttempts = 0;
  let maxIncrementMs = 0;
  const callActors = async (caller: number) => {
    for (let k = 0; running(); k++) {
      const op = `${caller}.${k}`;
      const key = `${tag}-${Math.floor(Math.random() * counters)}`;
      triedOps.set(op, key);
      const started = performance.now();
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        actorAttempts++;
        const reply = await call(`/actors/Counter/${key}/apply`, { args: [op] }, auth);
        if (reply?.status === 200) {
          ackedOps.set(op, key);
          maxIncrementMs = Math.max(maxIncrementMs, performance.now() - started);
          break;
        }
        await sleep(100);
      }
    }
  };

  let kills = 0;
  let maxRestartMs = 0;
  const restarts: Promise<void>[] = [];
  // A kill every few seconds; the victim restarts in the background (a restart of a node takes
  // seconds on a loaded machine), and a kill always leaves at least one node serving.
  const killNodes = async () => {
    while (running()) {
      await sleep(options.killEveryMs * (0.5 + Math.random()));
      if (!running()) break;
      const up = nodes.filter((node) => node.url() !== undefined);
      const victim = up[Math.floor(Math.random() * up.length)];
      if (!victim || up.length < 2) continue;
      await victim.kill();
      kills++;
      log(`killed ${victim.nodeId} (kill ${kills})`);
      const restarted = performance.now();
      restarts.push(
        victim.start().then(() => {
          maxRestartMs = Math.max(maxRestartMs, performance.now() - restarted);
        }),
      );
    }
  };

  await Promise.all([
    killNodes(),
    ...Array.from({ length: options.eventSenders ?? 3 }, () => sendEvents()),
    ...Array.from({ length: options.actorCallers ?? 3 }, (_, caller) => callActors(caller)),
  ]);
  await Promise.all(restarts);
  const loadMs = performance.now() - loadStarted;
  log(
    `load stopped after ${Math.round(loadMs)} ms: ${ackedEvents.size} events, ${ackedOps.size} increments acknowledged`,
  );

  // Counters, read through the cluster.
  const counterProblems: string[] = [];
  for (let index = 0; index < counters; index++) {
    const key = `${tag}-${index}`;
    let state: { count: number; ops: string[] } | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS && state === undefined; attempt++) {
      const reply = await call(`/actors/Counter/${key}/read`, { args: [] }, auth);
      if (reply?.status === 200) state = (reply.json as { result: typeof state }).result;
      else await sleep(100);
    }
    if (!state) {
      counterProblems.push(`${key}: could not be read`);
      continue;
    }
    const applied = new Set(state.ops);
    if (applied.size !== state.ops.length) counterProblems.push(`${key}: an op applied twice`);
    if (state.count !== state.ops.length)
      counterProblems.push(`${key}: count ${state.count} but ${state.ops.length} ops`);
    for (const [op, opKey] of ackedOps) {
      if (opKey === key && !applied.has(op)) counterProblems.push(`${key}: acked op ${op} lost`);
    }
    for (const op of applied) {
      if (triedOps.get(op) !== key) counterProblems.push(`${key}: op ${op} never sent here`);
    }
  }

  // Runs, read from the storage itself once they settle.
  const storage = openStorage({ url: options.postgresUrl, schema, queueName: "troupe" });
  const flows = createFlows({
    store: storage.store,
    queue: storage.queue,
    keepProcessAlive: false,
  });
  const eventProblems: string[] = [];
  let runsCompleted = 0;
  try {
    await storage.ready();
    const settleBy = performance.now() + (options.settleTimeoutMs ?? 60_000);
    let runsByN = new Map<number, { status: string }[]>();
    const pending = () =>
      [...ackedEvents].filter((n) => {
        const runs = runsByN.get(n) ?? [];
        return !(runs.length === 1 && runs[0]?.status === "completed");
      });
    for (;;) {
      runsByN = new Map();
      const events = await flows.listEvents({ name: eventName, limit: 1_000_000 });
      for (const event of events) {
        const n = Number((event.data as { n?: unknown }).n);
        const { runs } = await flows.getEventRuns(event.id);
        runsByN.set(n, [...(runsByN.get(n) ?? []), ...runs.map((run) => ({ status: run.status }))]);
      }
      if (pending().length === 0 || performance.now() > settleBy) break;
      log(`waiting for ${pending().length} runs to finish`);
      await sleep(2000);
    }
    for (const n of pending()) {
      const runs = runsByN.get(n) ?? [];
      eventProblems.push(`event ${n}: ${runs.length} runs (${runs.map((r) => r.status)})`);
    }
    for (const [n, runs] of runsByN) {
      runsCompleted += runs.filter((run) => run.status === "completed").length;
      if (!ackedEvents.has(n) && runs.length > 1)
        eventProblems.push(`unacknowledged event ${n}: ${runs.length} runs`);
    }
  } finally {
    await flows.stop();
    await storage.close();
  }

  return {
    loadMs,
    kills,
    eventsAcked: ackedEvents.size,
    eventsUnacked: unackedEvents.size,
    eventAttempts,
    runsCompleted,
    actorCallsAcked: ackedOps.size,
    actorCallsUnacked: triedOps.size - ackedOps.size,
    actorAttempts,
    maxCallWaitMs,
    slowestCall,
    maxIncrementMs,
    callWaitBoundMs,
    maxRestartMs,
    eventProblems,
    counterProblems,
  };
}
