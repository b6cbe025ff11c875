import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { SoakNodeSettings } from "./fault-soak-settings.js";

const script = fileURLToPath(new URL("./fixtures/soak-node.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** One `troupe start` process of the soak, which can be killed and started again. */
export interface SoakNode {
  readonly nodeId: string;
  /** Its URL while it serves; undefined while it is down or starting. */
  url(): string | undefined;
  /** Starts the process and resolves once it listens. */
  start(): Promise<void>;
  /** SIGKILLs the process and resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a graceful stop); resolves once it exited. */
  stop(): Promise<void>;
}

/** A soak node process running `fixtures/soak-node.ts` with `settings`. */
export function createSoakNode(settings: SoakNodeSettings, startTimeoutMs = 90_000): SoakNode {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let url: string | undefined;

  const start = async () => {
    const spawned = spawn(process.execPath, ["--import", tsx, "--conditions=source", script], {
      env: { ...process.env, SOAK_NODE: JSON.stringify(settings) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = spawned;
    exited = new Promise<void>((resolve) => spawned.once("exit", () => resolve()));
    let output = "";
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        spawned.kill("SIGKILL");
        reject(new Error(`soak node ${settings.nodeId} did not listen in time:\n${output}`));
      }, startTimeoutMs);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /\{"url":"([^"]+)"\}/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      spawned.stdout?.on("data", onData);
      spawned.stderr?.on("data", onData);
      spawned.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`soak node ${settings.nodeId} exited (${code ?? signal}):\n${output}`));
      });
    });
  };

  const signal = async (name: NodeJS.Signals) => {
    url = undefined;
    if (child && child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
    child = undefined;
  };

  return {
    nodeId: settings.nodeId,
    url: () => url,
    start,
    kill: () => signal("SIGKILL"),
    stop: () => signal("SIGTERM"),
  };
}
