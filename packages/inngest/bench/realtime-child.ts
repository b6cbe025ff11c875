// A realtime bench path in a process of its own (forked by ./realtime.ts): measures the path
// INNGEST_BENCH_RT_PATHS names, sends its rows to the parent and exits.
import { pathRows } from "./realtime-path.js";

const key = process.env.INNGEST_BENCH_RT_PATHS ?? "";
let message: { rows?: Record<string, string | number>[]; error?: string };
try {
  message = { rows: await pathRows(key) };
} catch (error) {
  message = { error: String((error as Error)?.stack ?? error) };
}
process.send?.(message, () => process.exit(0));
