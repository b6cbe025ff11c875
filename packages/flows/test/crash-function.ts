import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { createFunction } from "../src/index.js";

/**
 * The cross-process tests' 5-step function: every step logs its side effect to a file, with the
 * process id, a nonce (its result) and its start and end times.
 */
export function crashFunction(effectsPath: string) {
  return createFunction(
    { id: "crash-five", triggers: [{ event: "crash/go" }], retries: 10 },
    async ({ runId, step }) => {
      const results: string[] = [];
      for (let index = 1; index <= 5; index++) {
        results.push(
          await step.run(`step-${index}`, async () => {
            const nonce = randomUUID();
            const startedAt = performance.timeOrigin + performance.now();
            // A little real work, so kills land mid-step as well as between steps.
            await new Promise<void>((resolve) =>
              setTimeout(resolve, Math.floor(Math.random() * 3)),
            );
            const endedAt = performance.timeOrigin + performance.now();
            appendFileSync(
              effectsPath,
              `${runId} step-${index} ${nonce} ${process.pid} ${startedAt} ${endedAt}\n`,
            );
            return nonce;
          }),
        );
      }
      return results;
    },
  );
}

/** One logged step execution. */
export interface Effect {
  readonly runId: string;
  readonly step: string;
  readonly nonce: string;
  readonly pid: string;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** Parses the effects log. */
export function parseEffects(text: string): Effect[] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [runId = "", step = "", nonce = "", pid = "", startedAt = "0", endedAt = "0"] =
        line.split(" ");
      return { runId, step, nonce, pid, startedAt: Number(startedAt), endedAt: Number(endedAt) };
    });
}
