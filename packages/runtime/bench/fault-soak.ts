// The long fault soak (the short one runs in `pnpm test`): 3 `troupe start` nodes on PostgreSQL +
// NATS under event and actor load, one SIGKILLed and restarted every few seconds, for
// TROUPE_SOAK_MINUTES (default 1.5) of load; TROUPE_SOAK_KILL_EVERY_MS (default 4000),
// TROUPE_SOAK_SENDERS and TROUPE_SOAK_CALLERS (default 3 each) tune it. Prints the figures;
// exits 1 when a check fails.
import { printTable } from "@troupe/testkit";
import { runFaultSoak } from "../test/fault-soak.js";

const minutes = Number(process.env.TROUPE_SOAK_MINUTES ?? 1.5);
const report = await runFaultSoak({
  postgresUrl: process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  natsUrl: process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222",
  durationMs: Math.round(minutes * 60_000),
  killEveryMs: Number(process.env.TROUPE_SOAK_KILL_EVERY_MS ?? 4000),
  eventSenders: Number(process.env.TROUPE_SOAK_SENDERS ?? 3),
  actorCallers: Number(process.env.TROUPE_SOAK_CALLERS ?? 3),
  log: (line) => console.error(`[soak] ${line}`),
});
const seconds = (ms: number) => (ms / 1000).toFixed(1);
printTable(`fault soak: ${minutes} min of load, 3 nodes, PostgreSQL + NATS`, [
  {
    "load s": seconds(report.loadMs),
    kills: report.kills,
    "events acked": report.eventsAcked,
    "runs completed": report.runsCompleted,
    "increments acked": report.actorCallsAcked,
    "HTTP attempts": report.eventAttempts + report.actorAttempts,
    "max call wait s": seconds(report.maxCallWaitMs),
    "bound (2 × lease) s": seconds(report.callWaitBoundMs),
    "max increment incl. retries s": seconds(report.maxIncrementMs),
    "max restart s": seconds(report.maxRestartMs),
  },
]);
const problems = [...report.eventProblems, ...report.counterProblems];
if (report.maxCallWaitMs > report.callWaitBoundMs) problems.push("a call waited past 2 × lease");
if (report.eventsUnacked + report.actorCallsUnacked > 0)
  problems.push(
    `${report.eventsUnacked} events, ${report.actorCallsUnacked} increments never acked`,
  );
console.log(`slowest call: ${report.slowestCall}`);
for (const problem of problems.slice(0, 50)) console.log(`FAIL ${problem}`);
console.log(problems.length === 0 ? "all checks passed" : `${problems.length} problems`);
process.exitCode = problems.length === 0 ? 0 : 1;
