import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { NodeConfig } from "./plan.js";

const support = dirname(fileURLToPath(import.meta.url));
const worker = join(support, "..", "crash-worker", "tx-node.ts");
// A config goes in a file (thousands of planned transfers do not fit in one argument: E2BIG),
// removed once the node read it.

/** A running test/crash-worker/tx-node.ts process and what it printed. */
export interface TxNode {
  readonly child: ChildProcess;
  /** Every line it printed so far. */
  readonly lines: string[];
  /** Resolves with the signal that ended it (null for an ordinary exit). */
  readonly exited: Promise<NodeJS.Signals | null>;
  /** Resolves once it printed `line` (rejects if it exits first). */
  printed(line: string): Promise<void>;
  /** Names of the transfers it acknowledged. */
  acked(): string[];
}

/** Starts a node with `config`; resolves once it serves calls ("ready"). */
export async function startTxNode(
  config: NodeConfig,
  children: Set<ChildProcess>,
): Promise<TxNode> {
  const configDir = mkdtempSync(join(tmpdir(), "troupe-tx-node-"));
  const configPath = join(configDir, "config.json");
  writeFileSync(configPath, JSON.stringify(config));
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=source", worker, configPath],
    { cwd: join(support, "..", ".."), stdio: ["pipe", "pipe", "pipe"] },
  );
  children.add(child);
  const lines: string[] = [];
  const waiting = new Map<string, () => void>();
  let stderr = "";
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      lines.push(line);
      waiting.get(line)?.();
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => {
    child.once("exit", (_code, signal) => {
      children.delete(child);
      resolve(signal);
    });
  });
  const printed = (line: string): Promise<void> =>
    lines.includes(line)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiting.set(line, resolve)),
          exited.then((signal) => {
            if (lines.includes(line)) return;
            throw new Error(
              `${config.nodeId} exited (${signal ?? child.exitCode}) before printing "${line}"; last lines ${JSON.stringify(lines.slice(-5))}; stderr ${stderr.slice(-2_000)}`,
            );
          }),
        ]);
  try {
    await printed("ready");
  } finally {
    rmSync(configDir, { recursive: true, force: true });
  }
  return {
    child,
    lines,
    exited,
    printed,
    acked: () => lines.filter((l) => l.startsWith("ack ")).map((l) => l.slice(4)),
  };
}

/** Sends `signal` (SIGKILL unless told) and resolves once the process is gone. */
export async function stopTxNode(node: TxNode, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill(signal);
  await node.exited;
}
