import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createActorSystem } from "@troupe/actors";
import { systemClock } from "@troupe/core";
import { createFlows } from "@troupe/flows";
import { createSqliteQueue, createSqliteStore } from "@troupe/sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { waitForSaga } from "../src/index.js";
import { orderSaga, Shipping, Stock, Wallet } from "./saga-shop.js";

const here = dirname(fileURLToPath(import.meta.url));
const worker = join(here, "saga-worker", "shop-node.ts");
const children = new Set<ChildProcess>();

/** Starts the shop process; resolves with its run id once it reached `crash-point <step>`. */
function startShop(args: string[]): Promise<{ child: ChildProcess; runId: string }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=source", worker, ...args],
    {
      cwd: join(here, ".."),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const runId = /run (\S+)/.exec(stdout)?.[1];
      if (runId && stdout.includes("crash-point")) resolve({ child, runId });
    });
    child.once("exit", (code) => reject(new Error(`shop exited early (${code}): ${stderr}`)));
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

// The cases run side by side: each has its own SQLite file and waits on its own shop process.
describe.concurrent("a saga survives a SIGKILL of its process (SQLite)", () => {
  const dir = mkdtempSync(join(tmpdir(), "troupe-saga-"));
  afterAll(() => {
    for (const child of children) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  for (const crashStep of ["reserve", "charge", "ship"]) {
    it(`killed right after the ${crashStep} call: resumes, finishes, each step applied once`, async () => {
      const path = join(dir, `${crashStep}.db`);
      const order = { orderId: "o1", sku: "lamp", qty: 2, customer: "ada", price: 30 };
      const { child, runId } = await startShop([
        path,
        "shop-worker",
        crashStep,
        JSON.stringify(order),
      ]);
      await killHard(child);

      // The same worker identity restarts on the same file, without the crash hook.
      const store = createSqliteStore({ path });
      const actorsQueue = createSqliteQueue({ path, clock: systemClock, queueName: "actors" });
      const flowsQueue = createSqliteQueue({ path, clock: systemClock, queueName: "flows" });
      const system = createActorSystem({
        store,
        queue: actorsQueue,
        actors: [Stock, Wallet, Shipping],
        nodeId: "shop",
      });
      const ranAgain: string[] = [];
      const saga = orderSaga(() => system, { afterCall: (step) => void ranAgain.push(step) });
      const flows = createFlows({ store, queue: flowsQueue, functions: [saga] });
      try {
        await flows.start({ workerId: "shop-worker" });
        const outcome = await waitForSaga(flows, runId, { timeoutMs: 60_000 });
        expect(outcome).toMatchObject({
          status: "completed",
          results: { reserve: { reserved: 2 }, charge: 40, ship: "parcel-o1" },
        });
        // The steps before the crash are memoized and never ran again; the one cut short ran
        // again (its result was never recorded) and its actor saw the same idempotency key.
        const order_ = ["reserve", "charge", "ship"];
        expect(ranAgain).toEqual(order_.slice(order_.indexOf(crashStep)));
        const stock = await system.get(Stock, "lamp").view();
        const wallet = await system.get(Wallet, "ada").view();
        const shipping = await system.get(Shipping, "desk").view();
        expect([stock.applied, wallet.applied, shipping.applied]).toEqual([1, 1, 1]);
        expect([stock.available, wallet.balance, shipping.booked.length]).toEqual([8, 40, 1]);
        if (crashStep === "reserve") {
          // The repeated reserve found its key and answered the first result.
          expect(outcome.status === "completed" && outcome.results.reserve).toEqual({
            reserved: 2,
            repeated: true,
          });
        }
      } finally {
        await flows.stop();
        await system.close();
        await flowsQueue.close();
        await actorsQueue.close();
        await store.close();
      }
    }, 120_000);
  }

  it("killed right after a compensation's call: the restarted worker compensates once and ends compensated", async () => {
    const path = join(dir, "undo.db");
    // 3 × 60 is more than the wallet's 100: the charge fails for good, the reservation is released.
    const order = { orderId: "o2", sku: "lamp", qty: 3, customer: "bob", price: 60 };
    const { child, runId } = await startShop([
      path,
      "shop-worker",
      "undo-reserve",
      JSON.stringify(order),
    ]);
    await killHard(child);

    const store = createSqliteStore({ path });
    const actorsQueue = createSqliteQueue({ path, clock: systemClock, queueName: "actors" });
    const flowsQueue = createSqliteQueue({ path, clock: systemClock, queueName: "flows" });
    const system = createActorSystem({
      store,
      queue: actorsQueue,
      actors: [Stock, Wallet, Shipping],
      nodeId: "shop",
    });
    const ranAgain: string[] = [];
    const saga = orderSaga(() => system, { afterCall: (step) => void ranAgain.push(step) });
    const flows = createFlows({ store, queue: flowsQueue, functions: [saga] });
    try {
      await flows.start({ workerId: "shop-worker" });
      expect(await waitForSaga(flows, runId, { timeoutMs: 60_000 })).toMatchObject({
        status: "compensated",
        failedStep: "charge",
        error: { message: "insufficient funds" },
        compensated: ["reserve"],
      });
      // Only the compensation cut short ran again; the release it repeated found its key done.
      expect(ranAgain).toEqual(["undo-reserve"]);
      const stock = await system.get(Stock, "lamp").view();
      expect(stock.available).toBe(10);
      expect(stock.applied).toBe(1);
      expect(Object.values(stock.reservations)).toEqual([{ qty: 3, released: true }]);
      expect((await system.get(Wallet, "bob").view()).balance).toBe(100);
    } finally {
      await flows.stop();
      await system.close();
      await flowsQueue.close();
      await actorsQueue.close();
      await store.close();
    }
  }, 120_000);
});
