import { type ActorSystem, createActorSystem } from "@troupe/actors";
import {
  createMemoryMetrics,
  createMemoryQueue,
  createMemoryStore,
  type MemoryMetrics,
} from "@troupe/core";
import { createFlows, type Flows, NonRetriableError } from "@troupe/flows";
import { afterEach, describe, expect, it } from "vitest";
import {
  defineSaga,
  retrySagaCompensation,
  type SagaStep,
  startSaga,
  waitForSaga,
} from "../src/index.js";
import { orderSaga, Shipping, Stock, Wallet } from "./saga-shop.js";

let flows: Flows | undefined;
let system: ActorSystem | undefined;
afterEach(async () => {
  await flows?.stop();
  await system?.close();
  flows = undefined;
  system = undefined;
});

async function startFlows(functions: readonly object[]) {
  flows = createFlows({
    store: createMemoryStore(),
    queue: createMemoryQueue(),
    functions: functions as never,
  });
  await flows.start();
  return flows;
}

type Input = { failAt?: string; flaky?: Record<string, number>; brokenUndo?: string };

/** Four steps that log what they do; `failAt` fails that step for good. */
function loggingSaga(
  log: string[],
  metrics?: MemoryMetrics | (() => MemoryMetrics),
  broken = { undo: "" },
) {
  const step = (name: string): SagaStep<Input> => ({
    name,
    run: ({ input, attempt }) => {
      if (input.failAt === name) throw new NonRetriableError(`${name} refused`);
      if ((input.flaky?.[name] ?? 0) > attempt) throw new Error(`${name} flaked`);
      log.push(`run ${name}`);
      return `${name}-done`;
    },
    compensate: ({ result, failure }) => {
      if (broken.undo === name) throw new Error(`cannot undo ${name}`);
      log.push(`undo ${name} (${String(result)}, after ${failure.step})`);
    },
  });
  return defineSaga<Input>("logging", {
    steps: [step("a"), step("b"), step("c"), step("d")],
    retries: 2,
    compensationRetries: 1,
    backoff: { baseMs: 0 },
    ...(metrics === undefined ? {} : { metrics }),
  });
}

describe("sagas on @troupe/flows (memory)", () => {
  it("runs every step once in order and completes", async () => {
    const log: string[] = [];
    const saga = loggingSaga(log);
    const engine = await startFlows([saga]);
    const { runId, sagaId } = await startSaga(engine, saga, {});
    const outcome = await waitForSaga(engine, runId, { timeoutMs: 10_000 });
    expect(outcome).toMatchObject({
      status: "completed",
      sagaId,
      results: { a: "a-done", b: "b-done", c: "c-done", d: "d-done" },
    });
    expect(log).toEqual(["run a", "run b", "run c", "run d"]);
  });

  for (const failAt of ["a", "b", "c", "d"]) {
    it(`a failure at step ${failAt} runs the compensations of the steps before it, newest first`, async () => {
      const log: string[] = [];
      const saga = loggingSaga(log);
      const engine = await startFlows([saga]);
      const { runId } = await startSaga(engine, saga, { failAt });
      const outcome = await waitForSaga(engine, runId, { timeoutMs: 10_000 });
      const before = ["a", "b", "c", "d"].slice(0, ["a", "b", "c", "d"].indexOf(failAt));
      expect(outcome).toMatchObject({
        status: "compensated",
        failedStep: failAt,
        error: { name: "NonRetriableError", message: `${failAt} refused` },
        compensated: [...before].reverse(),
      });
      expect(log).toEqual([
        ...before.map((name) => `run ${name}`),
        ...[...before].reverse().map((name) => `undo ${name} (${name}-done, after ${failAt})`),
      ]);
    });
  }

  it("retries a step (each attempt a memoized flow step) and counts it in the metrics", async () => {
    const log: string[] = [];
    const metrics = createMemoryMetrics();
    const saga = loggingSaga(log, metrics);
    const engine = await startFlows([saga]);
    const { runId } = await startSaga(engine, saga, { flaky: { b: 2 } });
    expect(await waitForSaga(engine, runId, { timeoutMs: 10_000 })).toMatchObject({
      status: "completed",
    });
    const run = await engine.getRun(runId);
    expect(run?.steps.map((step) => `${step.id}:${step.status}`)).toEqual([
      "step:a:completed",
      "step:b:failed",
      "step:b@1:failed",
      "step:b@2:completed",
      "step:c:completed",
      "step:d:completed",
      "saga:outcome:completed",
    ]);
    const saga_ = { saga: "logging" };
    expect(metrics.value("actors_saga_steps_started_total", saga_)).toBe(6);
    expect(metrics.value("actors_saga_steps_failed_total", saga_)).toBe(2);
    expect(metrics.value("actors_saga_steps_completed_total", saga_)).toBe(4);
    expect(metrics.value("actors_saga_completed_total", saga_)).toBe(1);
  });

  it("a step that fails more often than its retries fails the saga into compensation", async () => {
    const log: string[] = [];
    const metrics = createMemoryMetrics();
    const saga = loggingSaga(log, () => metrics); // the lazy form, as with the runtime
    const engine = await startFlows([saga]);
    const { runId } = await startSaga(engine, saga, { flaky: { c: 3 } });
    expect(await waitForSaga(engine, runId, { timeoutMs: 10_000 })).toMatchObject({
      status: "compensated",
      failedStep: "c",
      error: { message: "c flaked" },
      compensated: ["b", "a"],
    });
    const labels = { saga: "logging" };
    expect(metrics.value("actors_saga_steps_failed_total", labels)).toBe(3);
    expect(metrics.value("actors_saga_compensations_completed_total", labels)).toBe(2);
    expect(metrics.value("actors_saga_compensated_total", labels)).toBe(1);
  });

  it("a compensation that fails for good stops the saga (compensation_failed); retrySagaCompensation resumes it", async () => {
    const log: string[] = [];
    const metrics = createMemoryMetrics();
    const broken = { undo: "b" };
    const saga = loggingSaga(log, metrics, broken);
    const engine = await startFlows([saga]);
    const { runId, sagaId } = await startSaga(engine, saga, { failAt: "c" });
    const stopped = await waitForSaga(engine, runId, { timeoutMs: 10_000 });
    expect(stopped).toMatchObject({
      status: "compensation_failed",
      compensationStep: "compensate:b",
      error: { name: "SagaCompensationFailedError" },
    });
    expect(stopped.status === "compensation_failed" && stopped.error.message).toContain(
      `step "c" failed, then the compensation of "b" failed for good (cannot undo b); not compensated: ["b","a"]`,
    );
    expect(log).toEqual(["run a", "run b"]);
    const labels = { saga: "logging" };
    expect(metrics.value("actors_saga_compensations_failed_total", labels)).toBe(2); // 1 + 1 retry
    expect(metrics.value("actors_saga_compensation_failed_total", labels)).toBe(1);
    // An unknown run cannot be retried.
    await expect(retrySagaCompensation(engine, "nope")).rejects.toMatchObject({
      code: "NOT_FOUND",
    });

    broken.undo = ""; // the human fixed the cause
    const retried = await retrySagaCompensation(engine, runId);
    const outcome = await waitForSaga(engine, retried, { timeoutMs: 10_000 });
    expect(outcome).toMatchObject({
      status: "compensated",
      sagaId, // the same saga, so the same idempotency keys
      failedStep: "c",
      compensated: ["b", "a"],
    });
    // The forward steps did not run again; each compensation ran once.
    expect(log).toEqual(["run a", "run b", "undo b (b-done, after c)", "undo a (a-done, after c)"]);
    await expect(retrySagaCompensation(engine, retried)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      details: { field: "runId", status: "compensated" },
    });
  });

  it("a saga started with bad input fails at once naming the field", async () => {
    system = createActorSystem({
      store: createMemoryStore(),
      queue: createMemoryQueue(),
      actors: [Stock, Wallet, Shipping],
    });
    const saga = orderSaga(() => system as ActorSystem);
    const engine = await startFlows([saga]);
    const { runId } = await startSaga(engine, saga, { orderId: "o1", sku: "", qty: 1 } as never);
    const outcome = await waitForSaga(engine, runId, { timeoutMs: 10_000 });
    expect(outcome.status).toBe("failed");
    expect(outcome.status === "failed" && outcome.error?.message).toMatch(/sku/);
  });

  it("the order saga: idempotency keys reach the actors; out of stock compensates nothing, no funds refunds nothing twice", async () => {
    const store = createMemoryStore();
    system = createActorSystem({
      store,
      queue: createMemoryQueue(),
      actors: [Stock, Wallet, Shipping],
    });
    const live = system;
    const saga = orderSaga(() => live);
    const engine = await startFlows([saga]);
    const order = { orderId: "o1", sku: "lamp", qty: 2, customer: "ada", price: 30 };
    const first = await startSaga(engine, saga, order);
    expect(await waitForSaga(engine, first.runId, { timeoutMs: 10_000 })).toMatchObject({
      status: "completed",
      results: { reserve: { reserved: 2, repeated: false }, charge: 40, ship: "parcel-o1" },
    });
    expect((await live.get(Stock, "lamp").view()).reservations).toEqual({
      [`place-order/${first.sagaId}/reserve`]: { qty: 2, released: false },
    });
    // ada has 40 left: 2 × 30 more cannot be charged, so the reservation is released.
    const second = await startSaga(engine, saga, { ...order, orderId: "o2" });
    expect(await waitForSaga(engine, second.runId, { timeoutMs: 10_000 })).toMatchObject({
      status: "compensated",
      failedStep: "charge",
      error: { message: "insufficient funds" },
      compensated: ["reserve"],
    });
    const stock = await live.get(Stock, "lamp").view();
    expect(stock.available).toBe(8);
    expect(stock.reservations[`place-order/${second.sagaId}/reserve`]).toEqual({
      qty: 2,
      released: true,
    });
    expect((await live.get(Wallet, "ada").view()).balance).toBe(40);
  });
});

describe("defineSaga: bad definitions are named errors", () => {
  const run = () => 1;
  it.each([
    [{ steps: [] }, 'defineSaga("s").steps'],
    [{ steps: [{ name: "a" }] }, 'defineSaga("s").steps[0].run'],
    [{ steps: [{ name: "a", run, compensate: 3 }] }, 'defineSaga("s").steps[0].compensate'],
    [
      {
        steps: [
          { name: "a", run },
          { name: "a", run },
        ],
      },
      'defineSaga("s").steps[1].name',
    ],
    [{ steps: [{ name: "a@1", run }] }, 'defineSaga("s").steps[0].name'],
    [{ steps: [{ name: "a", run, retries: 21 }] }, 'defineSaga("s").steps[0].retries'],
    [{ steps: [{ name: "a", run }], backoff: { baseMs: -1 } }, 'defineSaga("s").backoff.baseMs'],
  ])("%j → INVALID_ARGUMENT naming %s", (options, field) => {
    let thrown: unknown;
    try {
      defineSaga("s", options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: "INVALID_ARGUMENT", details: { field } });
  });

  it("names a bad saga name", () => {
    expect(() => defineSaga("", { steps: [{ name: "a", run }] })).toThrow(/defineSaga\.name/);
  });

  it("the duplicate step's message names the duplicate", () => {
    expect(() =>
      defineSaga("s", {
        steps: [
          { name: "a", run },
          { name: "a", run },
        ],
      }),
    ).toThrow('duplicate step name "a"');
  });
});
