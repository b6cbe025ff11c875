// The realtime bench's publisher, in a process of its own (as an app publishing to Troupe would
// be), or on a thread of the bench's process (`INNGEST_BENCH_RT_PUBLISHER=thread`): POSTs /v1/realtime/publish over a bounded keep-alive pool, paced or flat out.
// It lives for a whole path (warm-ups, paced rounds, flood), as an app's process and its connection pool
// would: started per run, its own start-up and JIT would land inside the measured window.
// Each message carries its send time on the shared wall clock (timeOrigin + now, sub-ms); a
// paced one also its sequence number in the round and when the pacing meant to send it.
import { Agent, request } from "node:http";
import { parentPort, workerData } from "node:worker_threads";

// A child process gets its settings in the environment and talks over IPC; a thread, through
// workerData and its parent port.
const { url, concurrency } =
  parentPort === null
    ? {
        url: process.env.RT_PUBLISH_URL,
        concurrency: Number(process.env.RT_PUBLISH_CONCURRENCY),
      }
    : workerData;
const reply = (message) =>
  parentPort === null ? process.send(message) : parentPort.postMessage(message);
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const now = () => performance.timeOrigin + performance.now();
// The path is built by concatenation: a URL object per request cost more than the request.
const path = `${target.pathname}${target.search}`;
// A paced message's sequence number ends the query, where the bench's server wrapper reads it
// without parsing the URL.
const pacedPath = `${path}${target.search ? "&" : "?"}seq=`;
const headers = { "content-type": "application/json" };

// `seq` and `due` (when the pacing meant to send it): paced messages only.
const publish = (seq, due) =>
  new Promise((resolve, reject) => {
    const at = now();
    const outgoing = request(
      {
        host: target.hostname,
        port: target.port,
        path: seq === undefined ? path : `${pacedPath}${seq}`,
        method: "POST",
        agent,
        headers,
      },
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
    outgoing.end(JSON.stringify(seq === undefined ? { at } : { at, due, seq }));
  });

async function run(rate, total) {
  const started = performance.now();
  if (rate > 0) {
    const sends = new Array(total);
    for (let i = 0; i < total; i += 1) {
      const wait = started + (i * 1000) / rate - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      sends[i] = publish(i, performance.timeOrigin + started + (i * 1000) / rate);
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
  return (performance.now() - started) / 1000;
}

// One run per message ({ rate, total }); the bench ends the publisher after the path.
(parentPort ?? process).on("message", (command) => {
  run(command.rate, command.total).then(
    (seconds) => reply({ seconds }),
    (error) => reply({ error: String(error?.stack ?? error) }),
  );
});
