import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fromUtf8, systemClock, utf8 } from "@troupe/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqlitePubSub, createSqliteQueue, createSqliteStore } from "../src/index.js";
import { createTempDir } from "./temp-files.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const child = fileURLToPath(new URL("./fixtures/peer-child.ts", import.meta.url));

/** Runs the peer child to completion; resolves to its stdout lines (after "ready", if any). */
function runPeer(args: readonly string[], onReady: () => void = () => {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const peer = spawn(
      process.execPath,
      ["--import", "tsx", "--conditions=source", child, ...args],
      {
        cwd: packageDir,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    let errors = "";
    let ready = false;
    peer.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (!ready && out.startsWith("ready\n")) {
        ready = true;
        out = out.slice("ready\n".length);
        onReady();
      }
    });
    peer.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString();
    });
    peer.on("error", reject);
    peer.on("close", (code) => {
      if (code === 0) resolve(out.split("\n").filter((line) => line.length > 0));
      else reject(new Error(`peer ${args.join(" ")} exited with ${String(code)}: ${errors}`));
    });
  });
}

/** Runs two peers with `args` and lets them start together once both are ready. */
function runTwoPeers(args: readonly string[], path: string): Promise<string[][]> {
  let ready = 0;
  const onReady = () => {
    ready++;
    if (ready === 2) writeFileSync(`${path}.go`, "");
  };
  return Promise.all([runPeer(args, onReady), runPeer(args, onReady)]);
}

describe("several processes on one file", () => {
  let temp: ReturnType<typeof createTempDir>;
  let path: string;
  beforeEach(() => {
    temp = createTempDir("processes");
    path = join(temp.dir, "shared.db");
  });
  afterEach(() => temp.remove());

  it("delivers messages published by another process, in order", async () => {
    const pubsub = createSqlitePubSub({ path });
    const received: string[] = [];
    await pubsub.subscribe("wake", (message) => {
      received.push(fromUtf8(message));
    });
    await runPeer(["publish", path, "wake", "30"]);
    for (let waited = 0; received.length < 30 && waited < 5000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(received).toEqual(Array.from({ length: 30 }, (_, index) => `m${index}`));
    await pubsub.close();
  }, 30_000);

  it("serialises guarded commits from two processes: no increment is lost", async () => {
    const store = createSqliteStore({ path });
    await runTwoPeers(["increment", path, "150"], path);
    const entry = await store.get("counter");
    expect(entry && fromUtf8(entry.value)).toBe("300");
    await store.close();
  }, 30_000);

  it("hands each queue item to exactly one of two claiming processes", async () => {
    const queue = createSqliteQueue({ path, queueName: "jobs", clock: systemClock });
    const ids = Array.from({ length: 2000 }, (_, index) => `job-${index}`);
    await queue.enqueueMany(ids.map((id) => ({ id, payload: utf8(id) })));
    const [first, second] = await runTwoPeers(["claim", path, "jobs"], path);
    // Both processes got work, so they really competed for the same rows.
    expect(first?.length).toBeGreaterThan(0);
    expect(second?.length).toBeGreaterThan(0);
    const claimed = [...(first ?? []), ...(second ?? [])];
    expect(claimed.sort()).toEqual([...ids].sort());
    expect(await queue.counts()).toEqual({ waiting: 0, leased: 0 });
    await queue.close();
  }, 30_000);
});
