import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { TroupeError } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { createNatsTransport } from "../src/index.js";

const NATS_URL = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const fixture = fileURLToPath(new URL("./fixtures/listen-node.ts", import.meta.url));
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Starts the child that serves node "b", resolving once it says it is listening. */
async function startChild(subjectPrefix: string): Promise<ChildProcess> {
  // tsx is resolved from the package directory (it is hoisted to the workspace root).
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=source", fixture], {
    cwd: packageDir,
    env: { ...process.env, TROUPE_TEST_NATS_URL: NATS_URL, TROUPE_SUBJECT_PREFIX: subjectPrefix },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    let stdout = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("ready\n")) resolve();
    });
    child.once("exit", (code) =>
      reject(new Error(`child exited with code ${code} before listening:\n${stderr}`)),
    );
  });
  return child;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

describe("cross-process", () => {
  it("a node in another process answers many concurrent requests, and is unknown once killed", async () => {
    const subjectPrefix = `troupe_test.xproc_${process.pid}_${Date.now().toString(36)}`;
    const child = await startChild(subjectPrefix);
    children.push(child);
    const transport = createNatsTransport({ servers: NATS_URL, subjectPrefix });
    try {
      const count = 500;
      const replies = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          transport.request(`a${i % 7}`, "b", encode(`request ${i}`), { timeoutMs: 20_000 }),
        ),
      );
      expect(replies.map(decode)).toEqual(
        Array.from(
          { length: count },
          (_, i) => `b(pid ${child.pid}) answers a${i % 7}: request ${i}`,
        ),
      );

      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
      // The server drops the dead client's interest when its socket closes, so the next
      // request is answered "no responders" instead of waiting 20 s for a timeout.
      const error = await transport
        .request("a", "b", encode("anyone?"), { timeoutMs: 20_000 })
        .catch((caught: unknown) => caught);
      expect(TroupeError.isInstance(error, "UNKNOWN_NODE")).toBe(true);
    } finally {
      await transport.close();
    }
  });
});
