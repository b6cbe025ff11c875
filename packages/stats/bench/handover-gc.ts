// What the calling thread's garbage collector does with a pooled batch's results, without the
// workers: 100,000 results arrive as packed chunks of 128 (one per turn, as the pool hands them
// over), and are kept (the batch's result array and L1 hold every snapshot). Two forms:
//   trees   — each snapshot built as today: three maps, boxed doubles, bounds objects;
//   compact — each snapshot a `PooledSnapshot` (`workers.snapshots: "lazy"`), a small object
//             over its chunk's Float64Array (off the V8 heap), its maps built only when read.
// Per form: the calling thread's loop delay (1 ms timer) and its GC pauses. Run each form in its
// own process: `FORM=trees|compact node --import tsx --conditions=source bench/handover-gc.ts`.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DecodedOutcomes, encodeOutcomes, type Outcome } from "../src/batch-protocol.js";
import { createStatsAggregator, PooledSnapshot, type StatValues } from "../src/index.js";
import { withGcTrace } from "./batch-delay.js";
import { workloadActor, workloadRegistry, workloadSubsystems } from "./workload.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const ACTORS = Number(process.env.ACTORS ?? 100_000);
const CHUNK = 128;
const form = process.env.FORM === "compact" ? "compact" : "trees";

const engine = createStatsAggregator({
  combiner: workloadRegistry(),
  subsystems: workloadSubsystems("emit-fresh"),
  cache: { maxEntries: 0 },
});
const outcomes: Outcome[] = [];
for (let k = 0; k < CHUNK; k++) {
  const snapshot = engine.resolveSync(workloadActor(`actor_${k}`, 1));
  outcomes.push({
    values: { primary: snapshot.primary, derived: snapshot.derived, caps_used: snapshot.caps_used },
  });
}
const template = encodeOutcomes(outcomes);
const defaultBounds = (name: string) => engine.registry.dimension(name)?.defaultBounds;

const kept: unknown[] = new Array(ACTORS);
const l1 = new Map<string, unknown>();
let now = Date.now();

/** One chunk's arrival: its arrays as structured clone makes them, then its snapshots. */
function handOver(first: number): void {
  const chunk = {
    values: template.values.slice(),
    layout: template.layout.slice(),
    keyLists: template.keyLists.map((list) => [...list]),
    extras: new Array(CHUNK),
  };
  const decoded = new DecodedOutcomes(chunk, defaultBounds);
  const end = Math.min(ACTORS, first + CHUNK);
  now++;
  for (let i = first; i < end; i++) {
    const k = i - first;
    const id = `actor_${i}`;
    let snapshot: object;
    if (form === "trees") {
      const values = decoded.values(k) as StatValues;
      snapshot = {
        actor_id: id,
        version: 2,
        epoch: 1,
        created_at: now,
        primary: values.primary,
        derived: values.derived,
        caps_used: values.caps_used,
      };
    } else snapshot = new PooledSnapshot(id, 2, 1, now, decoded, k, undefined);
    kept[i] = snapshot;
    l1.set(id, snapshot);
  }
}

gc();
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
const started = performance.now();
const cpu = process.cpuUsage();
const { gc: trace } = await withGcTrace(
  () =>
    new Promise<void>((resolve) => {
      let next = 0;
      const turn = () => {
        handOver(next);
        next += CHUNK;
        if (next < ACTORS) setImmediate(turn);
        else resolve();
      };
      setImmediate(turn);
    }),
);
const used = process.cpuUsage(cpu);
histogram.disable();
const delay = (ns: number) => Math.max(0, ns / 1e6 - 1).toFixed(2);
const heap = process.memoryUsage();
console.log(
  JSON.stringify({
    form,
    actors: ACTORS,
    "wall ms": Math.round(performance.now() - started),
    "CPU ms": Math.round((used.user + used.system) / 1000),
    "loop delay": `p50 ${delay(histogram.percentile(50))} ms, p99 ${delay(histogram.percentile(99))} ms, max ${delay(histogram.max)} ms`,
    gc: trace,
    "heap used MB": Math.round(heap.heapUsed / 1e6),
    "external MB": Math.round((heap.external + heap.arrayBuffers) / 1e6),
    check: (kept[ACTORS - 1] as { primary: Record<string, number> }).primary !== undefined,
  }),
);
