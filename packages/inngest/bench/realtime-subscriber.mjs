// The realtime bench's subscriber, in a process of its own, as a browser or a service subscribing
// to Troupe would be: the official SDK's realtime client (`subscribe` of `inngest/realtime`) on
// one channel's topic. The parent says what to expect next ({ expect, paced, timeoutMs }); this
// answers { armed } at once, then, once that many messages arrived: a paced round's times per sequence number (arrays sized before the round),
// or a flat-out phase's latencies, and this process's CPU time over the phase.
import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { subscribe } from "inngest/realtime";
import { WebSocket } from "ws";

if (typeof globalThis.WebSocket === "undefined") Object.assign(globalThis, { WebSocket });

const oldSpaceUsed = () =>
  getHeapSpaceStatistics().find((space) => space.space_name === "old_space")?.space_used_size ?? 0;
const wallNow = () => performance.timeOrigin + performance.now();
let phase;
// Collections in the current phase: major, all, longest pause (ms).
const gc = { majors: 0, all: 0, max: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.all += 1;
    gc.max = Math.max(gc.max, entry.duration);
    if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.majors += 1;
  }
}).observe({ entryTypes: ["gc"] });

const subscription = await subscribe({
  channel: process.env.RT_CHANNEL,
  topics: ["t"],
  key: process.env.RT_JWT,
  apiBaseUrl: process.env.RT_SUBSCRIBE_URL,
  validate: false,
  onMessage: (message) => {
    const now = wallNow();
    const current = phase;
    if (!current) return;
    const { at, due, seq } = message.data;
    if (current.paced) {
      if (seq === undefined || !(seq >= 0 && seq < current.expect)) return;
      if (!Number.isNaN(current.delivered[seq])) return;
      current.sent[seq] = at;
      current.due[seq] = due;
      current.delivered[seq] = now;
    } else if (current.received < current.latencies.length) {
      current.latencies[current.received] = now - at;
    }
    current.received += 1;
    if (current.received >= current.expect) finish(current, true);
  },
});

function finish(current, complete) {
  if (phase !== current) return;
  phase = undefined;
  clearTimeout(current.timer);
  const cpu = process.cpuUsage(current.cpu);
  process.send({
    complete,
    received: current.received,
    cpuMicros: cpu.user + cpu.system,
    gc: { ...gc },
    promotedBytes: oldSpaceUsed() - current.oldSpace,
    ...(current.paced
      ? { sent: current.sent, due: current.due, delivered: current.delivered }
      : { latencies: current.latencies.subarray(0, Math.min(current.received, current.expect)) }),
  });
}

process.on("message", (command) => {
  if (command.close) {
    subscription.close();
    process.exit(0);
  }
  const current = {
    expect: command.expect,
    paced: command.paced,
    received: 0,
    cpu: process.cpuUsage(),
    oldSpace: oldSpaceUsed(),
    ...(command.paced
      ? {
          sent: new Float64Array(command.expect),
          due: new Float64Array(command.expect),
          delivered: new Float64Array(command.expect).fill(Number.NaN),
        }
      : { latencies: new Float64Array(command.expect) }),
  };
  Object.assign(gc, { majors: 0, all: 0, max: 0 });
  current.timer = setTimeout(() => finish(current, false), command.timeoutMs);
  phase = current;
  process.send({ armed: true });
  if (command.expect === 0) finish(current, true);
});
process.send({ ready: true });
