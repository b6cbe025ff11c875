// What scoped tokens cost the RESP server, side by side in one run: the same server (memory
// storage, in this process) with the single `token` password and with the runtime's scoped-token
// access (`createProtocolAccess`: a scoped `actors:read actors:call` token checked against its
// hashed record, each command checked for its scope, the token re-checked every 100 ms),
// driven by redis-benchmark (GET and SET, 50 clients, unpipelined and -P 16). Rounds alternate
// the order; the table holds the median requests/s of each row, its ratio to "token", and the
// server's requests per CPU-second (process CPU time, which a loaded machine disturbs less).
// Run: pnpm --filter @troupe/runtime exec tsx --conditions=source bench/protocol-tokens.ts
import { execFile } from "node:child_process";
import { createActorSystem } from "@troupe/actors";
import {
  createMemoryPubSub,
  createMemoryQueue,
  createMemoryStore,
  noopLogger,
  systemClock,
} from "@troupe/core";
import { createRespServer, RespKey } from "@troupe/resp";
import { printTable } from "@troupe/testkit";
import { createAuditLog } from "../src/access/audit-log.js";
import { createProtocolAccess } from "../src/access/protocol-access.js";
import { createTokenRegistry } from "../src/access/token-registry.js";

const REQUESTS = Number(process.env.RUNTIME_BENCH_RESP_N ?? 50_000);
const ROUNDS = Number(process.env.RUNTIME_BENCH_ROUNDS ?? 3);
const ROOT = "tok-9f1c2a7e4b8d3f6a0c5e1b7d2a9f4c8e";

function redisBenchmark(port: number, password: string, test: string, pipeline: number) {
  const args = ["-h", "127.0.0.1", "-p", String(port), "-a", password, "-t", test];
  args.push("-n", String(REQUESTS), "-c", "50", "-P", String(pipeline), "--csv");
  return new Promise<number>((resolve, reject) => {
    // Asynchronous: the server under test runs in this process's event loop.
    execFile("redis-benchmark", args, { maxBuffer: 1 << 24 }, (error, stdout) => {
      if (error) return reject(error);
      const line = stdout.split("\n").find((row) => row.startsWith(`"${test.toUpperCase()}"`));
      resolve(Number(line?.split(",")[1]?.replace(/"/g, "")));
    });
  });
}

async function main() {
  const store = createMemoryStore();
  const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [RespKey] });
  const registry = createTokenRegistry({ store, clock: systemClock });
  const { token: scoped } = await registry.create({
    name: "bench",
    scopes: ["actors:read", "actors:call"],
  });
  const access = createProtocolAccess({
    rootToken: ROOT,
    registry,
    audit: createAuditLog({ store, clock: systemClock, logger: noopLogger }),
    events: false,
    keyWrites: false,
    recheckMs: 100,
  });
  const base = { system, store, pubsub: createMemoryPubSub(), keyActor: RespKey };
  const single = createRespServer({ ...base, token: ROOT });
  const withAccess = createRespServer({ ...base, access });
  const cases = [
    { name: "token", port: await single.listen(0), password: ROOT },
    { name: "scoped token", port: await withAccess.listen(0), password: scoped },
  ];
  const samples = new Map<string, { rps: number[]; perCpu: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const pipeline of [1, 16]) {
      for (const test of ["get", "set"]) {
        for (const entry of order) {
          const cpu = process.cpuUsage();
          const rps = await redisBenchmark(entry.port, entry.password, test, pipeline);
          const used = process.cpuUsage(cpu);
          const key = `${entry.name}|${test.toUpperCase()} -P ${pipeline}`;
          const sample = samples.get(key) ?? { rps: [], perCpu: [] };
          sample.rps.push(rps);
          sample.perCpu.push(REQUESTS / ((used.user + used.system) / 1e6));
          samples.set(key, sample);
        }
      }
    }
  }
  await single.close();
  await withAccess.close();
  await system.close();
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;
  const rows: Record<string, string | number>[] = [];
  for (const pipeline of [1, 16]) {
    for (const test of ["GET", "SET"]) {
      const of = (name: string) => samples.get(`${name}|${test} -P ${pipeline}`);
      const reference = median(of("token")?.rps ?? []);
      for (const entry of cases) {
        const sample = of(entry.name);
        const rps = median(sample?.rps ?? []);
        rows.push({
          command: `${test} -P ${pipeline}`,
          auth: entry.name,
          "req/s": Math.round(rps).toLocaleString("en-US"),
          "vs token": (rps / reference).toFixed(3),
          "req per CPU-s": Math.round(median(sample?.perCpu ?? [])).toLocaleString("en-US"),
        });
      }
    }
  }
  printTable(
    `RESP with scoped tokens (redis-benchmark -c 50, ${REQUESTS} requests × ${ROUNDS} rounds, medians)`,
    rows,
  );
}

await main();
