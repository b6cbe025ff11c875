// The functions of the cross-process flow-control test (PostgreSQL, two worker processes):
// "fc-limited" (concurrency 3 per event.data.key), "fc-throttled" (5 starts per second) and
// "fc-rated" (rate limit 5 per minute). Step starts and ends are appended to a log file.
import { appendFileSync } from "node:fs";
import { createFunction } from "../src/index.js";

/** One line of the log. */
export interface FlowControlEffect {
  readonly fn: string;
  readonly runId: string;
  readonly key: string;
  readonly phase: "start" | "end";
  readonly at: number;
  readonly pid: number;
}

/** Parses the log. */
export function parseFlowControlLog(text: string): FlowControlEffect[] {
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as FlowControlEffect);
}

/** The functions, logging to `logPath`. */
export function flowControlFunctions(logPath: string) {
  /** Wall time in ms with sub-ms precision, comparable between processes on one machine. */
  const wallNow = () => performance.timeOrigin + performance.now();
  const log = (fn: string, runId: string, phase: "start" | "end", key = "") =>
    appendFileSync(
      logPath,
      `${JSON.stringify({ fn, runId, key, phase, at: wallNow(), pid: process.pid })}\n`,
    );

  const limited = createFunction(
    {
      id: "fc-limited",
      triggers: [{ event: "fc/limited" }],
      concurrency: { limit: 3, key: "event.data.key" },
    },
    async ({ event, runId, step }) => {
      const key = String(event.data.key);
      await step.run("work", async () => {
        log("fc-limited", runId, "start", key);
        await new Promise((resolve) => setTimeout(resolve, 15));
        log("fc-limited", runId, "end", key);
      });
    },
  );
  const throttled = createFunction(
    {
      id: "fc-throttled",
      triggers: [{ event: "fc/throttled" }],
      throttle: { limit: 5, period: "1s" },
    },
    async ({ runId, step }) => {
      await step.run("work", () => log("fc-throttled", runId, "start"));
    },
  );
  const ratedFn = createFunction(
    { id: "fc-rated", triggers: [{ event: "fc/rated" }], rateLimit: { limit: 5, period: "1m" } },
    async ({ runId, step }) => {
      await step.run("work", () => log("fc-rated", runId, "start"));
    },
  );
  return [limited, throttled, ratedFn];
}
