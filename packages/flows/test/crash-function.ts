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
              formatEffect({
                runId,
                step: `step-${index}`,
                nonce,
                pid: String(process.pid),
                startedAt,
                endedAt,
              }),
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

const EFFECT_LINE =
  /^(\S+) (step-\d+) ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) (\d+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/;

/**
 * One effect as appended to the log, in one write. The record starts with a newline as well as
 * ending with one: a worker SIGKILLed inside that write can leave only its first part in the file
 * (Linux copies a write into the page cache chunk by chunk and stops at a chunk boundary once a
 * fatal signal is pending), and the next process's record must still start on a line of its own
 * instead of being glued to the torn one.
 */
export function formatEffect(effect: Effect): string {
  const { runId, step, nonce, pid, startedAt, endedAt } = effect;
  return `\n${runId} ${step} ${nonce} ${pid} ${startedAt} ${endedAt}\n`;
}

function logLines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

/** Parses the effects log: every complete record (a torn one is left out, see {@link tornEffects}). */
export function parseEffects(text: string): Effect[] {
  const effects: Effect[] = [];
  for (const line of logLines(text)) {
    const match = EFFECT_LINE.exec(line);
    if (!match) continue;
    const [, runId = "", step = "", nonce = "", pid = "", startedAt = "0", endedAt = "0"] = match;
    effects.push({
      runId,
      step,
      nonce,
      pid,
      startedAt: Number(startedAt),
      endedAt: Number(endedAt),
    });
  }
  return effects;
}

/** The log's lines that are not a complete record: writes cut short by a SIGKILL. */
export function tornEffects(text: string): string[] {
  return logLines(text).filter((line) => !EFFECT_LINE.test(line));
}
