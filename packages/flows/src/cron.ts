import type { EnqueueItem } from "@troupe/core";
import { jitteredDue } from "./cron-jitter.js";
import type { FlowsContext } from "./engine-context.js";
import { type FunctionDefinition, INTERNAL_EVENTS, nextCronTick } from "./function.js";
import { enqueueItem, type Item } from "./queue-items.js";

type CronItem = Extract<Item, { kind: "cron" }>;

/**
 * Cron triggers. Each trigger's next tick is one queue item with a deterministic id
 * (`c:<function>:<trigger>:<time>`), so every process may schedule it and it fires once; a fired
 * tick sends an `inngest/scheduled.timer` event routed to its function and schedules the next.
 */
export interface CronSchedule {
  /** Schedules the next tick of every registered function (once, at the first start or runDue). */
  ensureScheduled(): Promise<void>;
  /** After a registration: schedules the function's ticks if schedules are already laid out. */
  registered(definition: FunctionDefinition): void;
  /** Resolves once ticks scheduled by `registered` are enqueued. */
  settled(): Promise<void>;
  /** Fires a due tick (a no-op for a tick of a schedule that was since replaced). */
  fire(item: CronItem): Promise<void>;
}

/** The queue item of a cron tick, due at the tick delayed by the trigger's jitter. */
function tickItem(
  functionId: string,
  index: number,
  trigger: { readonly cron: string; readonly timezone: string; readonly jitterMs?: number },
  tick: number,
  random: () => number,
): EnqueueItem {
  const due = jitteredDue(
    tick,
    trigger.jitterMs ? nextCronTick(trigger.cron, trigger.timezone, tick) : undefined,
    trigger.jitterMs,
    random,
  );
  return enqueueItem({ kind: "cron", functionId, trigger: index, tick }, due);
}

/** The queue items of a function's next cron ticks after `now`. */
export function cronItems(
  definition: FunctionDefinition,
  now: number,
  random: () => number = Math.random,
): EnqueueItem[] {
  const items: EnqueueItem[] = [];
  definition.triggers.forEach((trigger, index) => {
    if (!("cron" in trigger)) return;
    const tick = nextCronTick(trigger.cron, trigger.timezone, now);
    if (tick === undefined) return;
    items.push(tickItem(definition.id, index, trigger, tick, random));
  });
  return items;
}

/** Creates the cron schedule of an engine. */
export function createCronSchedule(ctx: FlowsContext): CronSchedule {
  /** Set once the cron ticks of the functions known at start are scheduled. */
  let ready = false;
  /** Work that `registerFunction` (synchronous) started; `runDue` and `stop` await it. */
  let scheduling: Promise<void> = Promise.resolve();

  return {
    async ensureScheduled() {
      if (ready) return;
      ready = true;
      const now = ctx.clock.now();
      const items: EnqueueItem[] = [];
      for (const { definition } of ctx.registry.all())
        items.push(...cronItems(definition, now, ctx.random));
      await ctx.enqueue(items);
    },

    registered(definition) {
      // Registered after the schedules were laid out: schedule this function's ticks now (tick
      // ids are deterministic, so a replacement with the same schedule adds no duplicate).
      if (!ready) return;
      const items = cronItems(definition, ctx.clock.now(), ctx.random);
      if (items.length === 0) return;
      scheduling = scheduling.then(() =>
        ctx.enqueue(items).catch((error: unknown) => {
          ctx.logger.error("flows: scheduling a registered function's cron failed", {
            functionId: definition.id,
            error,
          });
        }),
      );
    },

    settled: () => scheduling,

    async fire(item) {
      const registered = ctx.registry.get(item.functionId);
      const trigger = registered?.definition.triggers[item.trigger];
      if (!registered || !trigger || !("cron" in trigger)) return;
      // A tick left from before a re-registration changed this trigger's schedule: a no-op, its
      // chain ends here (the new schedule's chain was started by the registration).
      if (nextCronTick(trigger.cron, trigger.timezone, item.tick - 1) !== item.tick) return;
      await ctx.ingest.one(
        {
          name: INTERNAL_EVENTS.cron,
          id: `cron:${item.functionId}:${item.trigger}:${item.tick}`,
          data: {
            cron: trigger.cron,
            timezone: trigger.timezone,
            scheduledAt: new Date(item.tick).toISOString(),
          },
        },
        { onlyFunction: item.functionId },
      );
      const tick = nextCronTick(
        trigger.cron,
        trigger.timezone,
        Math.max(item.tick, ctx.clock.now()),
      );
      if (tick === undefined) return;
      await ctx.enqueue([tickItem(item.functionId, item.trigger, trigger, tick, ctx.random)]);
    },
  };
}
