import { randomUUID } from "node:crypto";
import { appendFileSync } from "node:fs";
import { createFunction } from "../src/index.js";

/** The crash test's 5-step function: every step logs its side effect (with a nonce) to a file. */
export function crashFunction(effectsPath: string) {
  return createFunction(
    { id: "crash-five", triggers: [{ event: "crash/go" }], retries: 10 },
    async ({ runId, step }) => {
      const results: string[] = [];
      for (let index = 1; index <= 5; index++) {
        results.push(
          await step.run(`step-${index}`, async () => {
            const nonce = randomUUID();
            // A little real work, so kills land mid-step as well as between steps.
            await new Promise<void>((resolve) =>
              setTimeout(resolve, Math.floor(Math.random() * 3)),
            );
            appendFileSync(effectsPath, `${runId} step-${index} ${nonce}\n`);
            return nonce;
          }),
        );
      }
      return results;
    },
  );
}
