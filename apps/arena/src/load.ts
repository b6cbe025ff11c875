import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import { createArena } from "./arena.js";
import { finishedMatches, queueEvents, registerPlayers } from "./players.js";

// Drives an arena on a scratch SQLite database: N players, R matches each, while 8 readers fetch
// random players' snapshots. Prints matches/s and the snapshot read latency percentiles.
const players = Number(process.env.ARENA_PLAYERS ?? 200);
const rounds = Number(process.env.ARENA_ROUNDS ?? 3);
const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-arena-load-"));
const arena = createArena({
  storageUrl: `sqlite:${path.join(dir, "arena.db")}`,
  port: 0,
  logger: noopLogger,
});
try {
  const { url } = await arena.start();
  const ids = await registerPlayers(url, "player", players);
  const expected = (players / 2) * rounds;
  const started = performance.now();
  await arena.flows.send(queueEvents(ids, rounds));
  const latencies: number[] = [];
  let done = 0;
  const reader = async () => {
    while (done < expected) {
      const id = ids[Math.floor(Math.random() * ids.length)];
      const before = performance.now();
      const response = await fetch(`${url}/stats/actors/${id}`);
      await response.arrayBuffer();
      latencies.push(performance.now() - before);
    }
  };
  const readers = Array.from({ length: 8 }, reader);
  while (done < expected && performance.now() - started < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    done = await finishedMatches(url, ids);
    process.stdout.write(`\r${done}/${expected} matches`);
  }
  const seconds = (performance.now() - started) / 1000;
  done = Math.max(done, expected);
  await Promise.all(readers);
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  console.log(
    `\n${players} players × ${rounds} rounds: ${(expected / seconds).toFixed(1)} matches/s; ` +
      `snapshot reads: ${latencies.length}, p50 ${at(0.5).toFixed(2)} ms, p99 ${at(0.99).toFixed(2)} ms; ` +
      `load average ${os
        .loadavg()
        .map((value) => value.toFixed(2))
        .join(" ")}`,
  );
} finally {
  await arena.stop();
  rmSync(dir, { recursive: true, force: true });
}
