import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const support = dirname(fileURLToPath(import.meta.url));
const packageDir = join(support, "..", "..");
const worker = join(support, "..", "cluster-worker", "bank-node.ts");

/**
 * Starts test/cluster-worker/bank-node.ts in its own process with `args`; resolves once it serves
 * calls. Every process started is recorded in `children`, so a test file can kill stragglers.
 */
export function startNode(
  args: readonly string[],
  children: Set<ChildProcess>,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=source", worker, ...args],
    {
      cwd: packageDir,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.add(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (process.env.ACTORS_XP_DEBUG) process.stderr.write(chunk);
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`node exited early (${code}): ${stderr}`)));
  });
}

/** Sends `signal` (SIGKILL unless told) and resolves once the process is gone. */
export function kill(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}
