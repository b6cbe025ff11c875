// How late a 1 ms timer is when the event loop also wakes for messages, with nothing to do for
// them: libuv's clock is in whole milliseconds, so a loop woken between ticks sleeps past the
// next one by the fraction of a millisecond it woke at. Ticks in which the calling thread waited
// for a core are left out (Linux: its schedstat), so the machine's load does not count.
// `npx tsx bench/timer-floor.ts` (`TIMER_FLOOR_MS`, default 3000, per row).
import { openSync, readSync } from "node:fs";
import { Worker } from "node:worker_threads";

const MS = Number(process.env.TIMER_FLOOR_MS ?? 3000);
const fd = openSync(`/proc/self/task/${process.pid}/schedstat`, "r");
const buffer = Buffer.alloc(96);
/** The calling thread's time runnable but waiting for a core, ns. */
const waited = () =>
  Number(buffer.toString("latin1", 0, readSync(fd, buffer, 0, 96, 0)).split(" ")[1]);

async function row(messageEveryMs: number | undefined): Promise<string> {
  const source = `const { parentPort } = require("node:worker_threads");
    const cell = new Int32Array(new SharedArrayBuffer(4));
    for (;;) { Atomics.wait(cell, 0, 0, ${messageEveryMs}); parentPort.postMessage(0); }`;
  const worker = messageEveryMs === undefined ? undefined : new Worker(source, { eval: true });
  let messages = 0;
  worker?.on("message", () => {
    messages++;
  });
  const late: number[] = [];
  let last = performance.now();
  let lastWaited = waited();
  const timer = setInterval(() => {
    const now = performance.now();
    const nowWaited = waited();
    if (nowWaited - lastWaited < 50_000) late.push(now - last - 1);
    last = now;
    lastWaited = nowWaited;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, MS));
  clearInterval(timer);
  await worker?.terminate();
  late.sort((a, b) => a - b);
  const at = (p: number) => (late[Math.floor(late.length * p)] ?? Number.NaN).toFixed(3);
  return `${messageEveryMs === undefined ? "no messages" : `a message every ${messageEveryMs} ms (${messages})`}: ${late.length} ticks without a wait for a core, late p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} ms, > 0.5 ms ${late.filter((ms) => ms > 0.5).length}`;
}

for (const every of [undefined, 0.7, undefined, 0.7]) console.log(await row(every));
