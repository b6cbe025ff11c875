// Reads the files INNGEST_BENCH_RT_TRACE=<dir> wrote (one per paced row; per message: due, sent,
// at server, delivered, ms on the wall clock) and says where the slow messages spent their time:
// `node bench/realtime-trace.mjs <dir>`.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node bench/realtime-trace.mjs <INNGEST_BENCH_RT_TRACE dir>");
  process.exit(2);
}
const p = (sorted, q) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)];
const fmt = (ms) => (Number.isFinite(ms) ? ms.toFixed(1) : "-");
console.log(
  "| row | messages | total p99 | publisher late p99 | to server p99 | server → delivered p99 | slowest 1%: late / to server / server → delivered (mean ms) | slow-message bursts (start s: count) |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |");
for (const file of readdirSync(dir).sort()) {
  const rows = readFileSync(join(dir, file), "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(" ").map(Number));
  const [first] = rows;
  if (!first) continue;
  const start = first[0];
  const seg = rows.map(([due, sent, server, delivered]) => ({
    due,
    total: delivered - sent,
    late: sent - due,
    toServer: server - sent,
    after: delivered - server,
  }));
  const sorted = (key) =>
    seg
      .map((m) => m[key])
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
  const slow = [...seg]
    .sort((a, b) => b.total - a.total)
    .slice(0, Math.max(1, Math.ceil(seg.length / 100)));
  const mean = (key) => slow.reduce((sum, m) => sum + m[key], 0) / slow.length;
  // Where in the run the slow messages were due, by 100 ms window.
  const windows = new Map();
  for (const m of slow) {
    const at = Math.floor((m.due - start) / 100) / 10;
    windows.set(at, (windows.get(at) ?? 0) + 1);
  }
  const bursts = [...windows]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([at, n]) => `${at.toFixed(1)}: ${n}`);
  console.log(
    `| ${file.replace(/\.txt$/, "")} | ${seg.length} | ${fmt(p(sorted("total"), 99))} | ${fmt(p(sorted("late"), 99))} | ${fmt(p(sorted("toServer"), 99))} | ${fmt(p(sorted("after"), 99))} | ${fmt(mean("late"))} / ${fmt(mean("toServer"))} / ${fmt(mean("after"))} | ${bursts.join(", ")} |`,
  );
}
