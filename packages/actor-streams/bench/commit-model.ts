// Publish→deliver latency to an in-process handle when the Store's commit latency is set by a
// model instead of a database: time is simulated (a commit takes the model's time, publishes
// arrive at the given rate), so the figures do not depend on the machine's load, and the
// publish path (group commit, delivery after the commit) is the real one. Two kinds of slow commit:
// "own" — one commit is slow on its own (its backend not scheduled, a lock) and the commits beside
// it are not; "stall" — everything in flight waits (a WAL flush that stalls every committer).
// Run: pnpm --filter @troupe/actor-streams bench:model
//   (BENCH_RATE events/s, BENCH_STREAMS, BENCH_EVENTS, BENCH_COMMIT_MS, BENCH_SLOW_MS,
//   BENCH_SLOW_EVERY: one slow commit in this many)
import { createMemoryPubSub, createMemoryStore, type Store } from "@troupe/core";
import { createStreams } from "../src/index.js";
import { envNumber, rate, streamCount } from "./env.js";

const eventCount = envNumber("BENCH_EVENTS", 10_000);
const commitMs = envNumber("BENCH_COMMIT_MS", 1);
const slowMs = envNumber("BENCH_SLOW_MS", 8);
const slowEvery = envNumber("BENCH_SLOW_EVERY", 200);
const STEP_MS = 0.1;

/** A deterministic pseudo-random sequence (the same commits are slow in every run). */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

async function run(kind: "own" | "stall") {
  let now = 0;
  const due: { at: number; resume: () => void }[] = [];
  const chance = random(42);
  let stallUntil = 0;
  let commits = 0;
  const inner = createMemoryStore();
  const store: Store = {
    ...inner,
    get: (key) => inner.get(key),
    getMany: (keys) => inner.getMany(keys),
    list: (options) => inner.list(options),
    close: () => inner.close(),
    async commit(ops) {
      commits += 1;
      let takes = commitMs;
      if (chance() < 1 / slowEvery) {
        if (kind === "own") takes = slowMs;
        else stallUntil = Math.max(stallUntil, now + slowMs);
      }
      const entry = { at: now + takes, resume: () => {} };
      const done = new Promise<void>((resolve) => {
        entry.resume = resolve;
      });
      due.push(entry);
      await done;
      return inner.commit(ops);
    },
  };
  const pubsub = createMemoryPubSub();
  const streams = createStreams({ store, pubsub, sweepMs: 0 });
  const samples: number[] = [];
  for (let i = 0; i < streamCount; i++) {
    await streams.subscribe("model", `s${i}`, (event) => {
      samples.push(now - (event.data as { t: number }).t);
    });
  }
  const turns = async () => {
    for (let i = 0; i < 4; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  let sent = 0;
  while (samples.length < eventCount) {
    while (sent < eventCount && (sent * 1_000) / rate <= now) {
      void streams.publish("model", `s${sent % streamCount}`, { t: (sent * 1_000) / rate });
      sent += 1;
    }
    await turns();
    now += STEP_MS;
    // A stall holds every commit in flight until it ends.
    for (const entry of due.splice(0)) {
      if (entry.at <= now && now >= stallUntil) entry.resume();
      else due.push(entry);
    }
    await turns();
  }
  await streams.close();
  await pubsub.close();
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const over = samples.filter((each) => each >= 5).length;
  console.log(
    `| ${kind} | ${samples.length} | ${at(0.5)?.toFixed(2)} | ${at(0.99)?.toFixed(2)} | ${at(1)?.toFixed(2)} | ${((100 * over) / samples.length).toFixed(2)} | ${(commits / samples.length).toFixed(2)} |`,
  );
}

console.log(
  `\nsimulated commits: ${commitMs} ms, one in ${slowEvery} slow (${slowMs} ms); ${rate} events/s over ${streamCount} streams\n`,
);
console.log("| slow commit | events | p50 ms | p99 ms | max ms | % ≥ 5 ms | commits/event |");
console.log("| --- | --: | --: | --: | --: | --: | --: |");
await run("own");
await run("stall");
process.exit(0);
