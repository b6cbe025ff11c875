// The realtime bench's publisher, on its own thread (as an app publishing to Troupe would be in
// its own process): POSTs /v1/realtime/publish over a bounded keep-alive pool, paced or flat out.
// Each message carries its send time on the shared wall clock (timeOrigin + now, sub-ms).
import { Agent, request } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

const { url, rate, total, concurrency } = workerData;
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: 32 });
const now = () => performance.timeOrigin + performance.now();

// `due`: when the pacing meant to send it (the paced run), so the publisher's own lateness shows.
const publish = (due) =>
  new Promise((resolve, reject) => {
    const at = now();
    // The send time also rides in the query, where the bench's server wrapper reads it cheaply.
    const url = new URL(target);
    url.searchParams.set("sent_at", String(at));
    const outgoing = request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json" } },
      (response) => {
        response.resume();
        response.on("end", () =>
          response.statusCode === 200
            ? resolve()
            : reject(new Error(`publish: HTTP ${response.statusCode}`)),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end(JSON.stringify(due === undefined ? { at } : { at, due }));
  });

const started = performance.now();
if (rate > 0) {
  const sends = [];
  for (let i = 0; i < total; i += 1) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    sends.push(publish(performance.timeOrigin + started + (i * 1000) / rate));
  }
  await Promise.all(sends);
} else {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next += 1;
        await publish();
      }
    }),
  );
}
agent.destroy();
parentPort.postMessage({ seconds: (performance.now() - started) / 1000 });
