import { createMemoryQueue, createMemoryStore, ManualClock, type Queue } from "@troupe/core";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineActor } from "./define.js";
import { type ActorSystem, createActorSystem } from "./system.js";

const Alarm = defineActor({
  name: "Alarm",
  key: "string",
  state: z.object({ rings: z.number().int() }),
  initialState: () => ({ rings: 0 }),
  actions: {
    async arm(ctx) {
      await ctx.setReminder("ring", { afterMs: 0 });
    },
    rings: { readOnly: true, handler: (ctx) => ctx.state.rings },
  },
  reminders: {
    ring(ctx) {
      ctx.state.rings += 1;
    },
  },
});

function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/**
 * A Queue whose `nextAvailableAt` can be held after it has read its answer: the test then makes
 * the wake (a new reminder and its timer) arrive between the poll's check and its sleep.
 */
function heldQueue(inner: Queue) {
  let hold: { entered: () => void; release: Promise<void> } | undefined;
  const queue: Queue = {
    name: inner.name,
    queueName: inner.queueName,
    enqueue: (item) => inner.enqueue(item),
    enqueueMany: (items) => inner.enqueueMany(items),
    claim: (options) => inner.claim(options),
    ack: (lease) => inner.ack(lease),
    retry: (lease, options) => inner.retry(lease, options),
    ackMany: (leases) => inner.ackMany(leases),
    retryMany: (leases, options) => inner.retryMany(leases, options),
    extend: (lease, leaseMs) => inner.extend(lease, leaseMs),
    remove: (id) => inner.remove(id),
    get: (id) => inner.get(id),
    counts: () => inner.counts(),
    close: () => inner.close(),
    async nextAvailableAt(partitionKey) {
      const seen = await inner.nextAvailableAt(partitionKey);
      const held = hold;
      hold = undefined;
      if (held !== undefined) {
        held.entered();
        await held.release;
      }
      return seen;
    },
  };
  /** Holds the next check once it has read; resolves when it is held. */
  const holdNextCheck = () => {
    const entered = deferred();
    const release = deferred();
    hold = { entered: entered.resolve, release: release.promise };
    return { entered: entered.promise, release: release.resolve };
  };
  return { queue, holdNextCheck };
}

describe("reminder wake-ups", () => {
  let system: ActorSystem | undefined;
  afterEach(async () => {
    await system?.close();
  });

  it("fires a reminder set while the poll was checking the queue, without waiting a poll interval", async () => {
    const clock = new ManualClock();
    const { queue, holdNextCheck } = heldQueue(createMemoryQueue({ clock }));
    const pollMs = 60_000;
    system = createActorSystem({
      store: createMemoryStore(),
      queue,
      clock,
      actors: [Alarm],
      reminderPollMs: pollMs,
    });
    const alarm = system.get(Alarm, "a");
    await clock.advance(0); // the first poll: nothing due, sleeps for pollMs
    expect(await alarm.rings()).toBe(0);

    // The next poll reads "nothing due" and is held before it can go to sleep…
    const check = holdNextCheck();
    await clock.advance(pollMs);
    await check.entered;
    // …while a reminder due now is set and its wake-up timer fires.
    await alarm.arm();
    await clock.advance(0);
    check.release();

    // Well under one poll interval later the reminder has fired.
    for (let step = 0; step < 10 && (await alarm.rings()) === 0; step++) {
      await clock.advance(100);
    }
    expect(await alarm.rings()).toBe(1);
  });
});
