import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { noopLogger } from "@troupe/core";
import { waitFor } from "@troupe/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { createArena } from "../src/arena.js";
import { finishedMatches, queueEvents, registerPlayers } from "../src/players.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "troupe-arena-test-"));
const arena = createArena({
  storageUrl: `sqlite:${path.join(dir, "arena.db")}`,
  port: 0,
  logger: noopLogger,
});
afterAll(async () => {
  await arena.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Snapshot {
  primary: Record<string, number>;
}

describe("the arena end to end", () => {
  it("pairs queued players, plays their matches and records the results in their snapshots", {
    timeout: 120_000,
  }, async () => {
    const { url } = await arena.start();
    const ids = await registerPlayers(url, "p", 4);
    await arena.flows.send(queueEvents(ids, 2));
    // 4 players × 2 rounds = 4 matches; each adds one win and one loss.
    await waitFor(async () => (await finishedMatches(url, ids)) === 4, {
      what: "four matches to finish",
      timeoutMs: 100_000,
    });
    const snapshots = await Promise.all(
      ids.map(async (id) => (await (await fetch(`${url}/stats/actors/${id}`)).json()) as Snapshot),
    );
    const wins = snapshots.map((snapshot) => snapshot.primary.wins ?? 0);
    const losses = snapshots.map((snapshot) => snapshot.primary.losses ?? 0);
    expect(wins.reduce((a, b) => a + b, 0)).toBe(4);
    expect(losses.reduce((a, b) => a + b, 0)).toBe(4);
    for (let i = 0; i < ids.length; i++) expect((wins[i] ?? 0) + (losses[i] ?? 0)).toBe(2);
    // The gear is still there, and a player that won its last match carries the +10 % buff.
    for (const snapshot of snapshots) expect(snapshot.primary.armor).toBeGreaterThanOrEqual(5);
    const runs = await arena.flows.listRuns({ functionId: "arena-match", status: "completed" });
    expect(runs.length).toBe(4);
  });
});
