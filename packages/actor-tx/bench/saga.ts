// Sagas against the same work without the saga layer, side by side in one process on the
// memory Store: a two-step order (hold stock, pay) as a saga, as a plain @troupe/flows function
// with two step.run calls, and as the two actor calls made directly.
// Run: pnpm --filter @troupe/actor-tx bench:saga  (BENCH_SAGAS, default 1,000, to change)
import { performance } from "node:perf_hooks";
import { createActorSystem, defineActor } from "@troupe/actors";
import { createMemoryQueue, createMemoryStore } from "@troupe/core";
import { createFlows, createFunction, type FlowFunction, type Flows } from "@troupe/flows";
import { z } from "zod";
import { defineSaga } from "../src/index.js";

const total = Number(process.env.BENCH_SAGAS ?? 1_000);

const Stock = defineActor({
  name: "Stock",
  key: "string",
  state: z.object({ held: z.record(z.string(), z.number()) }),
  initialState: () => ({ held: {} }),
  actions: {
    hold(ctx, key: string) {
      ctx.state.held[key] = 1;
    },
    release(ctx, key: string) {
      ctx.state.held[key] = 0;
    },
  },
});
const Wallet = defineActor({
  name: "Wallet",
  key: "string",
  state: z.object({ paid: z.number() }),
  initialState: () => ({ paid: 0 }),
  actions: {
    pay(ctx, _key: string) {
      ctx.state.paid += 1;
    },
  },
});

interface Row {
  name: string;
  perSec: number;
  perCpuSec: number;
}

async function measure(name: string, body: () => Promise<() => Promise<void>>): Promise<Row> {
  const start = await body(); // set-up, not timed
  const cpu = process.cpuUsage();
  const before = performance.now();
  await start();
  const wallSec = (performance.now() - before) / 1000;
  const used = process.cpuUsage(cpu);
  const cpuSec = (used.user + used.system) / 1e6;
  return { name, perSec: total / wallSec, perCpuSec: total / cpuSec };
}

/** Starts `total` runs of `fn` at once and waits for them all. */
async function runAll(flows: Flows, fn: FlowFunction<unknown, never>) {
  const ids: string[] = [];
  for (let i = 0; i < total; i++) ids.push((await flows.invoke(fn.id, { data: { i } })).eventId);
  const runIds = await Promise.all(
    ids.map(async (eventId) => (await flows.getEventRuns(eventId)).runs[0]?.id ?? ""),
  );
  const runs = await Promise.all(runIds.map((id) => flows.waitForRun(id, { timeoutMs: 600_000 })));
  const bad = runs.filter((run) => run.status !== "completed").length;
  if (bad > 0) throw new Error(`${bad} runs did not complete`);
}

function world() {
  const store = createMemoryStore();
  const system = createActorSystem({ store, queue: createMemoryQueue(), actors: [Stock, Wallet] });
  return { store, system };
}

const rows: Row[] = [];

rows.push(
  await measure("two actor calls, direct", async () => {
    const { system } = world();
    return async () => {
      await Promise.all(
        Array.from({ length: total }, async (_, i) => {
          await system.get(Stock, "lamp").hold(`k${i}`);
          await system.get(Wallet, `c${i % 100}`).pay(`k${i}`);
        }),
      );
      await system.close();
    };
  }),
);

rows.push(
  await measure("flows function, two step.run", async () => {
    const { store, system } = world();
    const fn = createFunction({ id: "order", retries: 0 }, async ({ event, step }) => {
      const i = (event.data as { i: number }).i;
      await step.run("hold", () => system.get(Stock, "lamp").hold(`k${i}`));
      await step.run("pay", () => system.get(Wallet, `c${i % 100}`).pay(`k${i}`));
    });
    const flows = createFlows({ store, queue: createMemoryQueue(), functions: [fn] });
    await flows.start();
    return async () => {
      await runAll(flows, fn as never);
      await flows.stop();
      await system.close();
    };
  }),
);

rows.push(
  await measure("saga, two steps", async () => {
    const { store, system } = world();
    const saga = defineSaga<{ i: number }>("order", {
      steps: [
        {
          name: "hold",
          run: ({ idempotencyKey }) => system.get(Stock, "lamp").hold(idempotencyKey),
          compensate: ({ idempotencyKey }) => system.get(Stock, "lamp").release(idempotencyKey),
        },
        {
          name: "pay",
          run: ({ input, idempotencyKey }) =>
            system.get(Wallet, `c${input.i % 100}`).pay(idempotencyKey),
        },
      ],
    });
    const flows = createFlows({ store, queue: createMemoryQueue(), functions: [saga] });
    await flows.start();
    return async () => {
      await runAll(flows, saga as never);
      await flows.stop();
      await system.close();
    };
  }),
);

const direct = rows[0]?.perCpuSec ?? 1;
const plain = rows[1]?.perCpuSec ?? 1;
console.log(`${total} orders started at once, memory Store and Queue, one process`);
console.log("| setup | orders/s | orders/CPU-s | vs flows function (CPU) | vs direct (CPU) |");
console.log("| --- | ---: | ---: | ---: | ---: |");
for (const row of rows) {
  console.log(
    `| ${row.name} | ${Math.round(row.perSec).toLocaleString("en")} | ${Math.round(row.perCpuSec).toLocaleString("en")} | ${(row.perCpuSec / plain).toFixed(2)} | ${(row.perCpuSec / direct).toFixed(3)} |`,
  );
}
