import { createJsonCodec, StoreConflictError, type StoreOp } from "@troupe/core";
import type { FlowsContext } from "./engine-context.js";
import { type EventInput, type FlowEvent, validateEventInput } from "./event.js";
import {
  createAdmissionControl,
  type FollowUps,
  SINGLETON_CANCELLED,
} from "./flow-control/admission.js";
import { PAUSED_SKIP_REASON } from "./function-pause.js";
import { deriveItems, enqueueItem } from "./queue-items.js";
import type { RunRecord } from "./run-state.js";
import type { CommittedRuns } from "./run-store.js";
import { type Handoff, handOver, planHandoff } from "./worker-handoff.js";

/** How long a sender's idempotency `id` dedupes. */
export const DEDUPE_WINDOW_MS = 24 * 3_600_000;
/** Events stored per commit (a larger send is split). */
const MAX_EVENTS_PER_COMMIT = 100;

/**
 * Event ingestion: events are stored, deduped and routed to the functions they trigger; the runs
 * they create (after flow control) are committed with them and a recovery marker, then enqueued,
 * and the events are matched against waits.
 */
export interface Ingest {
  /** Validates and stores `inputs` (in commits of up to 100); resolves to their event ids. */
  send(inputs: readonly EventInput[]): Promise<string[]>;
  /** Stores one validated event, routed to `onlyFunction` alone when given. */
  one(input: EventInput, route: { readonly onlyFunction?: string }): Promise<string>;
  /**
   * After runs were committed: enqueues their first items (through concurrency admission), runs
   * the flow-control follow-ups, matches `events` against waits and drops the marker. Idempotent,
   * so `sweep` may redo it.
   */
  dispatch(committed: CommittedRuns, events?: readonly FlowEvent[]): Promise<void>;
  /** The flow-control work after a commit (also redone by `sweep` from a marker). */
  followUp(follow: FollowUps): Promise<void>;
}

const codec = createJsonCodec<unknown>();
const encode = (value: unknown) => codec.encode(value);
const decode = <T>(bytes: Uint8Array) => codec.decode(bytes) as T;

/** Creates the ingestion of an engine. */
export function createIngest(ctx: FlowsContext): Ingest {
  const { store, keys } = ctx;

  const followUp = async (follow: FollowUps) => {
    await ctx.enqueue(follow.items.map(({ item, at }) => enqueueItem(item, at)));
    for (const id of follow.remove) await ctx.queue.remove(id).catch(() => false);
    for (const runId of follow.cancel) await ctx.actions.cancel(runId, SINGLETON_CANCELLED);
  };

  const dispatch = async (committed: CommittedRuns, events: readonly FlowEvent[] = []) => {
    // Items all leased to this process's worker need no other worker woken.
    if (committed.enqueued) {
      if (!committed.leasedAll) ctx.wakeUps.wake();
    } else {
      const now = ctx.clock.now();
      await ctx.enqueue(
        await ctx.execution.admitNewRuns(committed.runs, (run) => deriveItems(run, now)),
      );
    }
    if (committed.follow) await followUp(committed.follow);
    if (events.length > 0) await ctx.waits.deliver(events);
    ctx.runs.markerDone(committed.markerKey);
  };

  /**
   * Stores a batch of events with the runs they trigger and a recovery marker in ONE commit,
   * then dispatches. A crash after the commit leaves the marker, and `sweep` redoes the rest.
   */
  const ingestBatch = async (
    inputs: readonly EventInput[],
    route: { readonly onlyFunction?: string },
  ): Promise<string[]> => {
    for (let tries = 0; ; tries++) {
      const now = ctx.clock.now();
      const events: FlowEvent[] = inputs.map((input) => ({
        id: input.eventId ?? ctx.newId(),
        name: input.name,
        data: input.data ?? {},
        ts: input.ts ?? now,
        ...(input.user === undefined ? {} : { user: input.user }),
        ...(input.v === undefined ? {} : { v: input.v }),
        ...(input.id === undefined ? {} : { dedupeId: input.id }),
      }));
      const ops: StoreOp[] = [];
      const duplicate = new Set<number>();
      // Caller-chosen event ids already stored (a retried send): neither stored nor routed again.
      const replayed = new Set<number>();
      const chosen = inputs.flatMap((input, index) =>
        input.eventId === undefined ? [] : [{ index, id: input.eventId }],
      );
      if (chosen.length > 0) {
        const stored = await store.getMany(chosen.map(({ id }) => keys.event(id)));
        const seen = new Set<string>();
        chosen.forEach(({ index, id }, position) => {
          if (stored[position] || seen.has(id)) replayed.add(index);
          seen.add(id);
        });
      }
      const dedupeIds = [
        ...new Set(inputs.flatMap((input) => (input.id === undefined ? [] : [input.id]))),
      ];
      const existing = await store.getMany(dedupeIds.map((id) => keys.dedupe(id)));
      const fresh = new Map<string, number>();
      dedupeIds.forEach((id, index) => {
        const entry = existing[index];
        if (entry && decode<{ at: number }>(entry.value).at > now - DEDUPE_WINDOW_MS) return;
        fresh.set(id, entry ? entry.version : 0);
      });
      inputs.forEach((input, index) => {
        if (input.id === undefined || replayed.has(index)) return;
        const version = fresh.get(input.id);
        if (version === undefined) {
          duplicate.add(index);
          return;
        }
        fresh.delete(input.id);
        ops.push({
          type: "set",
          key: keys.dedupe(input.id),
          value: encode({ eventId: events[index]?.id, at: now }),
          expect: version === 0 ? "absent" : version,
        });
      });
      const runs: RunRecord[] = [];
      // Events no function's trigger took: logged once stored, so a typo in a name shows up.
      const unmatched: FlowEvent[] = [];
      const control = createAdmissionControl(ctx.flowControl, now);
      const paused = await ctx.pauses.paused();
      for (const [index, event] of events.entries()) {
        if (replayed.has(index)) continue;
        const stored = encode(event);
        // A caller-chosen id must still be absent: a concurrent send of the same id conflicts
        // here, and the retry finds it stored.
        ops.push({
          type: "set",
          key: keys.event(event.id),
          value: stored,
          ...(inputs[index]?.eventId === undefined ? {} : { expect: "absent" as const }),
        });
        ops.push({ type: "set", key: keys.eventByName(event.name, event.id), value: stored });
        if (duplicate.has(index)) continue;
        const targets = ctx.registry.targets(event, route);
        // Lifecycle events (`inngest/function.failed`, …) are sent whether or not anyone listens.
        if (targets.length === 0 && !event.name.startsWith("inngest/")) unmatched.push(event);
        for (const definition of targets) {
          if (paused.has(definition.id)) {
            control.skip(event.id, definition.id, PAUSED_SKIP_REASON);
            continue;
          }
          if (ctx.admission) {
            const decision = await ctx.admission({
              functionId: definition.id,
              event,
              store,
              keyPrefix: `${ctx.prefix}fc/`,
            });
            if (decision.action === "skip") {
              control.skip(event.id, definition.id, decision.reason);
              continue;
            }
          }
          // Flow control: rate limit, idempotency and singleton may skip the event; debounce
          // and batching hold it (a queue item starts the run later) or release a batch now.
          for (const started of await control.admit(definition, event)) {
            const created = ctx.runs.create(definition, started);
            control.created(definition, created.run);
            runs.push(created.run);
            ops.push(...created.ops);
          }
        }
      }
      ops.push(...control.ops());
      const live = events.filter((_, index) => !duplicate.has(index) && !replayed.has(index));
      const first = events.find((_, index) => !replayed.has(index));
      let committed: CommittedRuns | undefined;
      let handoff: Handoff | undefined;
      try {
        if (first && live.length > 0) {
          // With a paired queue, runs that need no concurrency admission get their first
          // items in this same commit, and this process's idle worker slots get theirs leased.
          const pair =
            ctx.batcher.pairsQueue &&
            runs.length > 0 &&
            runs.every((run) => ctx.execution.admitsPlainly(run));
          const now = ctx.clock.now();
          const items = pair ? runs.flatMap((run) => deriveItems(run, now)) : [];
          handoff = pair ? planHandoff(ctx, runs, now) : undefined;
          committed = await ctx.runs.commitNew(ops, runs, {
            follow: control.followUps(),
            eventIds: live.map((event) => event.id),
            markerId: first.id,
            ...(pair ? { items } : {}),
            ...(handoff ? { leaseIds: [...handoff.runOf.keys()] } : {}),
          });
        } else {
          await ctx.batcher.commit(ops);
          ctx.runs.countCreated(runs);
        }
      } catch (error) {
        if (handoff) ctx.worker.unreserve(handoff.runOf.size);
        // Flow-control state (a batch, a rate-limit key) is shared by concurrent senders: a
        // conflict means another sender won this round, so retrying always makes progress.
        if (StoreConflictError.isInstance(error) && tries < 100) continue;
        throw error;
      }
      if (handoff && committed) handOver(ctx, handoff, committed);
      ctx.metrics.eventsTotal.inc(events.length);
      for (const event of unmatched) {
        ctx.logger.info("flows: event matched no function", {
          event: event.name,
          eventId: event.id,
        });
      }
      if (committed) await dispatch(committed, live);
      return events.map((event) => event.id);
    }
  };

  return {
    async send(inputs) {
      const validated = inputs.map((input, index) => validateEventInput(input, `events[${index}]`));
      const ids: string[] = [];
      for (let offset = 0; offset < validated.length; offset += MAX_EVENTS_PER_COMMIT) {
        ids.push(
          ...(await ingestBatch(validated.slice(offset, offset + MAX_EVENTS_PER_COMMIT), {})),
        );
      }
      return ids;
    },
    one: async (input, route) => (await ingestBatch([input], route))[0] as string,
    dispatch,
    followUp,
  };
}
