// Counts what decides the memory row's rate, per process: runs bench/profile-memory.ts RUNS times
// in fresh processes (V8 flags --trace-gc and --trace-deopt) and reports, for its second round,
// transfers per CPU-second, CPU µs per transfer, scavenges and mark-compacts per 1,000
// transfers, bytes allocated per transfer (what each GC freed plus the heap's growth), and the
// deopts of the whole process. With COMPARE_DIR=<another checkout's packages/actor-tx> it
// alternates that tree's runs with this one's, so the two are measured side by side.
// Run: RUNS=6 N=30000 npx tsx bench/memory-modes.ts
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const runs = Number(process.env.RUNS ?? 6);
const n = process.env.N ?? "30000";
const here = fileURLToPath(new URL("..", import.meta.url));
const trees = [
  ...(process.env.COMPARE_DIR ? [{ name: "compare", dir: process.env.COMPARE_DIR }] : []),
  { name: "this", dir: here },
];

interface Count {
  perCpuSec: number;
  scavenges: number;
  markCompacts: number;
  allocatedMb: number;
  deopts: number;
}

function once(dir: string): Count {
  const out = spawnSync(
    process.execPath,
    [
      "--trace-gc",
      "--trace-deopt",
      "--import",
      "tsx",
      "--conditions=source",
      "bench/profile-memory.ts",
    ],
    { cwd: dir, env: { ...process.env, N: n }, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
  );
  const lines = out.stdout.split("\n");
  const start = lines.findIndex((line) => line.startsWith("round 0:"));
  const end = lines.findIndex((line) => line.startsWith("round 1:"));
  if (start < 0 || end < 0) throw new Error(`profile-memory failed in ${dir}: ${out.stderr}`);
  let scavenges = 0;
  let markCompacts = 0;
  let freed = 0;
  let first: number | undefined;
  let last = 0;
  for (const line of lines.slice(start + 1, end)) {
    // "[pid:0x…]   123 ms: Scavenge 12.3 (14.0) -> 11.1 (15.0) MB, …"
    const gc = /: (Scavenge|Mark-Compact|Mark-sweep)[^\d]* ([\d.]+) \([\d.]+\) -> ([\d.]+)/.exec(
      line,
    );
    if (gc === null) continue;
    if (gc[1] === "Scavenge") scavenges++;
    else markCompacts++;
    const before = Number(gc[2]);
    const after = Number(gc[3]);
    first ??= before;
    freed += before - after;
    last = after;
  }
  const rate = /(\d+)\/CPU-s/.exec(lines[end] ?? "");
  return {
    perCpuSec: Number(rate?.[1] ?? Number.NaN),
    scavenges,
    markCompacts,
    allocatedMb: freed + Math.max(0, last - (first ?? last)),
    deopts: (out.stdout.match(/\[bailout \(kind/g) ?? []).length,
  };
}

const total = Number(n);
console.log(
  "| run | tree | transfers/CPU-s | CPU µs/transfer | scavenges/1k | mark-compacts | bytes/transfer | deopts |",
);
console.log("| --: | --- | --: | --: | --: | --: | --: | --: |");
for (let run = 1; run <= runs; run++) {
  for (const tree of trees) {
    const c = once(tree.dir);
    console.log(
      `| ${run} | ${tree.name} | ${c.perCpuSec.toLocaleString("en-US")} | ${(1e6 / c.perCpuSec).toFixed(1)} | ${((c.scavenges * 1000) / total).toFixed(2)} | ${c.markCompacts} | ${Math.round((c.allocatedMb * 1024 * 1024) / total).toLocaleString("en-US")} | ${c.deopts} |`,
    );
  }
}
