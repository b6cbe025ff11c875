// RESP server benchmark: redis-benchmark against Troupe's RESP server (memory and SQLite
// storage, in this process) and the real Redis on this machine, side by side in one run,
// unpipelined and with -P 16. Run with `pnpm bench` (tsx --conditions=source bench/index.ts).
// RESP_BENCH_N (default 100000) requests per test; RESP_BENCH_REDIS (default 127.0.0.1:6379).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createActorSystem } from "@troupe/actors";
import {
  createMemoryPubSub,
  createMemoryQueue,
  createMemoryStore,
  type Queue,
  type Store,
  systemClock,
} from "@troupe/core";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { printTable } from "@troupe/testkit";
import { createRespServer, RespKey } from "../src/index.js";

const REQUESTS = Number(process.env.RESP_BENCH_N ?? 100_000);
const [REDIS_HOST, REDIS_PORT] = (process.env.RESP_BENCH_REDIS ?? "127.0.0.1:6379").split(":");
const TESTS = "get,set,incr";

interface Result {
  readonly test: string;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
}

function redisBenchmark(host: string, port: number, pipeline: number, extra: string[] = []) {
  const args = ["-h", host, "-p", String(port), "-t", TESTS, "-n", String(REQUESTS)];
  args.push("-c", "50", "-P", String(pipeline), "--csv", ...extra);
  return new Promise<Result[]>((resolve, reject) => {
    // Asynchronous: the Troupe server under test runs in this process's event loop.
    execFile("redis-benchmark", args, { maxBuffer: 1 << 24 }, (error, stdout) => {
      if (error) return reject(error);
      const results: Result[] = [];
      for (const line of stdout.split("\n")) {
        const cells = line.split(",").map((cell) => cell.replace(/"/g, ""));
        if (cells.length < 7 || cells[0] === "test") continue;
        results.push({
          test: cells[0] as string,
          rps: Number(cells[1]),
          p50: Number(cells[4]),
          p99: Number(cells[6]),
        });
      }
      resolve(results);
    });
  });
}

async function troupeServer(store: Store, queue: Queue) {
  const system = createActorSystem({ store, queue, actors: [RespKey] });
  const server = createRespServer({ system, store, pubsub: createMemoryPubSub() });
  const port = await server.listen(0);
  return {
    port,
    async close() {
      await server.close();
      await system.close();
      await queue.close();
      await store.close();
    },
  };
}

const dir = mkdtempSync(path.join(tmpdir(), "troupe-resp-bench-"));
const targets: { name: string; open: () => Promise<{ port: number; close(): Promise<void> }> }[] = [
  {
    name: "Redis (real)",
    open: async () => ({ port: Number(REDIS_PORT), close: async () => undefined }),
  },
  {
    name: "Troupe RESP, memory",
    open: () => troupeServer(createMemoryStore(), createMemoryQueue()),
  },
  {
    name: "Troupe RESP, SQLite",
    open: () => {
      const file = path.join(dir, "bench.db");
      return troupeServer(
        createSqliteStore({ path: file }),
        createSqliteQueue({ path: file, queueName: "actors", clock: systemClock }),
      );
    },
  },
];

const tables: { title: string; pipelines: number[]; extra: string[] }[] = [
  {
    title: `redis-benchmark -t ${TESTS} -n ${REQUESTS} -c 50 (one key per command, as the brief's command line)`,
    pipelines: [1, 16],
    extra: [],
  },
  {
    title: `redis-benchmark -t ${TESTS} -n ${REQUESTS} -c 50 -r 10000 (10,000 distinct keys: one actor each)`,
    pipelines: [1, 16],
    extra: ["-r", "10000"],
  },
];
const printed: [string, Record<string, string | number>[]][] = [];
try {
  for (const table of tables) {
    const rows: Record<string, string | number>[] = [];
    const redisRps = new Map<string, number>();
    for (const pipeline of table.pipelines) {
      for (const target of targets) {
        const opened = await target.open();
        try {
          const isRedis = target.name.startsWith("Redis");
          const host = isRedis ? (REDIS_HOST as string) : "127.0.0.1";
          // The real Redis is shared with the test suites: the benchmark uses a database of its own.
          const extra = [...table.extra, ...(isRedis ? ["--dbnum", "9"] : [])];
          for (const result of await redisBenchmark(host, opened.port, pipeline, extra)) {
            const key = `${pipeline}:${result.test}`;
            if (isRedis) redisRps.set(key, result.rps);
            const base = redisRps.get(key);
            rows.push({
              server: target.name,
              pipeline: pipeline === 1 ? "none" : `-P ${pipeline}`,
              command: result.test,
              "ops/s": Math.round(result.rps).toLocaleString("en-US"),
              "p50 ms": result.p50.toFixed(3),
              "p99 ms": result.p99.toFixed(3),
              "vs Redis": base ? `${Math.round((result.rps / base) * 100)} %` : "",
            });
          }
        } finally {
          await opened.close();
        }
      }
    }
    printed.push([table.title, rows]);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
for (const [title, rows] of printed) printTable(title, rows);
