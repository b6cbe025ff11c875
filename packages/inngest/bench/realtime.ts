/**
 * Realtime latency and throughput: a publisher process (one per path, kept through the warm-ups,
 * paced rounds and flood, as an app's process would be) POSTs `/v1/realtime/publish` over
 * loopback HTTP (32 keep-alive connections), and a subscriber process receives through the
 * official SDK's realtime client (`subscribe` of `inngest/realtime`) over a WebSocket, as a
 * browser or another service would: the servers' process hosts the servers only. Latency is
 * publish start → the SDK's callback, on the shared wall clock (`timeOrigin + now`).
 *
 * Paths: one Troupe server (in-process PubSub), and two Troupe servers sharing Redis or NATS
 * (publish through one, subscribe on the other), as two runtime processes would. Each path runs
 * in a fresh process of its own (`INNGEST_BENCH_RT_ISOLATE=0`: all in this one), so one path's
 * heap and JIT state do not carry into the next. Per path (./realtime-path.ts):
 *
 * - cold: after 500 messages flat out (connections, the subscription), paced at
 *   `INNGEST_BENCH_RT_RATE` messages/s (default 1,000) for `INNGEST_BENCH_RT_SECONDS` (default
 *   10), each publish started on schedule without waiting for the previous one. V8 is still
 *   compiling the path; `INNGEST_BENCH_RT_COLD=0` skips it;
 * - warm: after `INNGEST_BENCH_RT_WARMUP` more messages flat out (default 5,000), the same pacing,
 *   `INNGEST_BENCH_RT_ROUNDS` times (default 1): the steady state the goal is about;
 * - flood: `INNGEST_BENCH_RT_FLOOD` messages (default 5,000) as fast as 32 concurrent
 *   publishers go, messages/s received.
 *
 * A paced row gives p50, p99, the slowest message and how many took over 20 ms. "CPU µs/msg" is
 * the CPU time per paced message of the servers' process and of the subscriber's (not the
 * publisher's), which the machine's load barely moves. "to server" is publish start → the request reaching the
 * server's fetch handler (the publisher's pool, loopback, HTTP parsing); the rest is the server,
 * the PubSub, the WebSocket and the SDK's client. "loop delay" is the event-loop delay
 * (`monitorEventLoopDelay`) of the servers' process, "GC" its major and all collections and the
 * longest pause ("sub GC": the subscriber's), and "promoted" the old-space growth per message of
 * each (what survived young-generation collections; "-" where a major collection ran), in the
 * paced round. "writes/msg server" is the servers' process's write system calls per message
 * (Linux `/proc/self/io` `syscw`: HTTP replies, PubSub publishes, WebSocket frames), in paced
 * rounds and the flood.
 *
 * Diagnostics: `INNGEST_BENCH_RT_TRACE=<dir>` writes each paced message's timeline (read it with
 * `node bench/realtime-trace.mjs <dir>`); `INNGEST_BENCH_RT_PROMOTED=<prefix>` a sampled heap
 * profile per paced round of what the servers' process promoted; `INNGEST_BENCH_RT_NODE_FLAGS`
 * passes Node flags (`--trace-gc`) to the path processes.
 */

import { fork } from "node:child_process";
import { PATH_KEYS, pathRows } from "./realtime-path.js";

type Row = Record<string, string | number>;

/** Runs one path in a fresh process (this module's loader and conditions, no other flags). */
function pathInChild(key: string): Promise<Row[]> {
  const child = fork(new URL("./realtime-child.ts", import.meta.url), [], {
    env: { ...process.env, INNGEST_BENCH_RT_PATHS: key },
    execArgv: [
      "--import",
      "tsx",
      "--conditions=source",
      ...(process.env.INNGEST_BENCH_RT_NODE_FLAGS ?? "").split(" ").filter(Boolean),
    ],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("message", (message: { rows?: Row[]; error?: string }) =>
      message.rows ? resolve(message.rows) : reject(new Error(message.error)),
    );
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`realtime bench path ${key}: exit ${code}`)));
  });
}

/** The realtime rows of the bench table. */
export async function realtimeRows(): Promise<Row[]> {
  // INNGEST_BENCH_RT_PATHS (default "one,redis,nats") picks the paths to measure.
  const paths = new Set((process.env.INNGEST_BENCH_RT_PATHS ?? PATH_KEYS.join(",")).split(","));
  const isolate = process.env.INNGEST_BENCH_RT_ISOLATE !== "0";
  const rows: Row[] = [];
  for (const key of PATH_KEYS) {
    if (!paths.has(key)) continue;
    rows.push(...(isolate ? await pathInChild(key) : await pathRows(key)));
  }
  return rows;
}
