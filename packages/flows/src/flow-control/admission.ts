import {
  type Clock,
  createJsonCodec,
  type Store,
  StoreConflictError,
  type StoreOp,
  TroupeError,
} from "@troupe/core";
import type { SerializedError } from "../errors.js";
import type { FlowEvent } from "../event.js";
import { matches } from "../expression.js";
import type { FunctionDefinition } from "../function.js";
import type { FlowKeys } from "../keys.js";
import { type FlowControlItem, itemId } from "../queue-items.js";
import type { RunRecord } from "../run-state.js";
import type { CommittedRuns, RunStore } from "../run-store.js";
import type { BatchState } from "./batch.js";
import {
  DEBOUNCE_COLLECT_MAX,
  type DebounceState,
  debounceDeadline,
  debounceEvents,
} from "./debounce.js";
import { IDEMPOTENCY_WINDOW_MS, type IdempotencyState, idempotencyHeld } from "./idempotency.js";
import { evaluateKey, keyHash, stateKey, statePrefix } from "./parse-option.js";
import { admitRateLimit, type RateLimitState } from "./rate-limit.js";
import type { SingletonState } from "./singleton.js";

/**
 * Why an event started no run of a function, as `getEventRuns` shows it: `"rateLimit"`,
 * `"idempotency"`, `"singleton"`, `"debounce"` (a later event of the same debounce replaced it;
 * `by` names that event), or the reason an `admission` seam gave.
 */
export interface SkipRecord {
  /** The function that did not run. */
  readonly functionId: string;
  /** Why. */
  readonly reason: string;
  /** When it was decided, ms. */
  readonly at: number;
  /** For `"debounce"`: the later event that replaced this one. */
  readonly by?: string;
}

/** Work to do after a commit that changed flow-control state (kept in the recovery marker). */
export interface FollowUps {
  /** Debounce and batch items to enqueue. */
  readonly items: { readonly item: FlowControlItem; readonly at: number }[];
  /** Runs to cancel (singleton mode "cancel"). */
  readonly cancel: string[];
  /** Queue items that no longer do anything (a batch that filled up before its timeout). */
  readonly remove: string[];
}

/** What flow control needs from the engine. */
export interface FlowControlHost {
  /** Where per-key state, events and runs live. */
  readonly store: Store;
  /** The engine's key prefix (state goes under `<prefix>fc/<kind>/`). */
  readonly prefix: string;
  /** The engine's key layout. */
  readonly keys: FlowKeys;
  /** The engine's clock. */
  readonly clock: Clock;
  /** A registered function's definition. */
  definition(functionId: string): FunctionDefinition | undefined;
  /** Creates runs (`create`), checks them (`isActive`) and commits them (`commitNew`). */
  readonly runs: Pick<RunStore, "create" | "isActive" | "commitNew">;
}

const codec = createJsonCodec<unknown>();
const encode = (value: unknown) => codec.encode(value);
const decode = <T>(bytes: Uint8Array) => codec.decode(bytes) as T;

/**
 * The instance a debounce or batch state belongs to (the id of its first event; stored as `g`).
 * Items carry it, so an item left from an instance that already ran does nothing.
 */
const instanceOf = (state: DebounceState | BatchState): string => state.g;

const batchItem = (functionId: string, keyValue: string, instance: string): FlowControlItem => ({
  kind: "batch",
  functionId,
  keyHash: keyHash(keyValue),
  instance,
});

const debounceItem = (functionId: string, keyValue: string, instance: string): FlowControlItem => ({
  kind: "debounce",
  functionId,
  keyHash: keyHash(keyValue),
  instance,
});

interface Cached {
  readonly version: number | "absent";
  value: unknown;
  dirty: boolean;
}

/**
 * Flow-control decisions for one commit: the admission rules read per-key state from the Store
 * once, decide in memory (several events of one batch may hit one key), and hand back guarded
 * writes that go into the same commit as the events and runs. A concurrent writer of the same
 * key fails the commit, which the caller retries from scratch: decisions never apply to a state
 * that changed under them.
 */
export interface AdmissionControl {
  /**
   * The runs `event` starts for `definition` now, as lists of events (none when skipped or held
   * by a debounce or batch; two when a late event also closes an overdue debounce or batch).
   */
  admit(definition: FunctionDefinition, event: FlowEvent): Promise<(readonly FlowEvent[])[]>;
  /** The singleton rule for a run about to be created with `events` (none when skipped). */
  start(
    definition: FunctionDefinition,
    events: readonly FlowEvent[],
  ): Promise<(readonly FlowEvent[])[]>;
  /** Records a run created from an `admit` or `fire` result (singleton bookkeeping). */
  created(definition: FunctionDefinition, run: RunRecord): void;
  /** Records that an event started no run of a function (visible in `getEventRuns`). */
  skip(eventId: string, functionId: string, reason: string, by?: string): void;
  /** The guarded writes to add to the commit. */
  ops(): StoreOp[];
  /** What to do after the commit. */
  followUps(): FollowUps;
}

/** Starts the flow-control decisions of one commit at time `now`. */
export function createAdmissionControl(host: FlowControlHost, now: number): AdmissionControl {
  const { store, prefix, keys } = host;
  const cache = new Map<string, Cached>();
  const skips = new Map<string, SkipRecord>();
  const seen = new Map<string, FlowEvent>();
  const createdHere = new Set<string>();
  const follow: FollowUps = { items: [], cancel: [], remove: [] };

  const read = async <T>(key: string): Promise<T | undefined> => {
    let cached = cache.get(key);
    if (!cached) {
      const entry = await store.get(key);
      cached = entry
        ? { version: entry.version, value: decode(entry.value), dirty: false }
        : { version: "absent", value: undefined, dirty: false };
      cache.set(key, cached);
    }
    return cached.value as T | undefined;
  };
  const write = (key: string, value: unknown) => {
    const cached = cache.get(key);
    if (!cached) throw new TroupeError("INTERNAL", `flow control wrote ${key} without reading it`);
    cached.value = value;
    cached.dirty = true;
  };
  const skip = (eventId: string, functionId: string, reason: string, by?: string) => {
    skips.set(host.keys.eventSkip(eventId, functionId), {
      functionId,
      reason,
      at: now,
      ...(by === undefined ? {} : { by }),
    });
  };
  const loadEvents = async (ids: readonly string[]): Promise<FlowEvent[]> => {
    const missing = ids.filter((id) => !seen.has(id));
    if (missing.length > 0) {
      const entries = await store.getMany(missing.map((id) => keys.event(id)));
      for (const entry of entries) {
        if (!entry) continue;
        const event = decode<FlowEvent>(entry.value);
        seen.set(event.id, event);
      }
    }
    // An event gone from the Store (deleted by retention) is left out rather than failing.
    return ids.flatMap((id) => {
      const event = seen.get(id);
      return event ? [event] : [];
    });
  };
  const addItem = (item: FlowControlItem, at: number) => follow.items.push({ item, at });
  const dropItem = (item: FlowControlItem) => {
    const id = itemId(item);
    const index = follow.items.findIndex((entry) => itemId(entry.item) === id);
    if (index >= 0) follow.items.splice(index, 1);
    else follow.remove.push(id);
  };

  /** The singleton rule, applied when a run is about to be created. */
  const startable = async (
    definition: FunctionDefinition,
    events: readonly FlowEvent[],
  ): Promise<(readonly FlowEvent[])[]> => {
    const config = definition.singleton;
    const first = events[0];
    if (!first) return [];
    if (!config) return [events];
    const key = stateKey(prefix, "s", definition.id, evaluateKey(config.key, first));
    const state = await read<SingletonState>(key);
    if (!state) return [events];
    const active = createdHere.has(state.runId) || (await host.runs.isActive(state.runId));
    if (!active) return [events];
    if (config.mode === "skip") {
      for (const event of events) skip(event.id, definition.id, "singleton");
      return [];
    }
    if (!follow.cancel.includes(state.runId)) follow.cancel.push(state.runId);
    return [events];
  };

  const closeOverdue = async (
    definition: FunctionDefinition,
    ids: readonly string[],
  ): Promise<(readonly FlowEvent[])[]> => startable(definition, await loadEvents(ids));

  const batch = async (
    definition: FunctionDefinition,
    event: FlowEvent,
  ): Promise<(readonly FlowEvent[])[]> => {
    const config = definition.batchEvents;
    if (!config) return [];
    const keyValue = evaluateKey(config.key, event);
    const key = stateKey(prefix, "b", definition.id, keyValue);
    const starts: (readonly FlowEvent[])[] = [];
    let state = await read<BatchState>(key);
    if (state && state.deadline <= now) {
      // The flush item is late (workers busy or down): the batch closed at its deadline, so
      // it runs now without this event, which opens the next batch.
      dropItem(batchItem(definition.id, keyValue, instanceOf(state)));
      starts.push(...(await closeOverdue(definition, state.events)));
      state = undefined;
    }
    if (!state) {
      state = {
        key: keyValue,
        g: event.id,
        first: now,
        deadline: now + config.timeoutMs,
        events: [],
      };
      addItem(batchItem(definition.id, keyValue, event.id), state.deadline);
    }
    const events = [...state.events, event.id];
    if (events.length < config.maxSize) {
      write(key, { ...state, events });
      return starts;
    }
    write(key, undefined);
    dropItem(batchItem(definition.id, keyValue, instanceOf(state)));
    starts.push(...(await startable(definition, await loadEvents(events))));
    return starts;
  };

  const debounce = async (
    definition: FunctionDefinition,
    event: FlowEvent,
  ): Promise<(readonly FlowEvent[])[]> => {
    const config = definition.debounce;
    if (!config) return [];
    const keyValue = evaluateKey(config.key, event);
    const key = stateKey(prefix, "d", definition.id, keyValue);
    const starts: (readonly FlowEvent[])[] = [];
    let state = await read<DebounceState>(key);
    if (state && state.deadline <= now) {
      // Overdue (its item has not fired yet): it ran at its deadline with its own latest event;
      // this event starts the next debounce.
      dropItem(debounceItem(definition.id, keyValue, instanceOf(state)));
      starts.push(...(await closeOverdue(definition, debounceEvents(state))));
      state = undefined;
    }
    if (!state) {
      const fresh: DebounceState = {
        key: keyValue,
        g: event.id,
        eventId: event.id,
        first: now,
        deadline: debounceDeadline(config, now, now),
        count: 1,
        ...(config.collect ? { collected: [event.id] } : {}),
      };
      write(key, fresh);
      addItem(debounceItem(definition.id, keyValue, event.id), fresh.deadline);
      return starts;
    }
    if (config.collect) {
      // Collecting: the earlier events go to the run too, so none is skipped. A full collection
      // closes the debounce now rather than dropping events.
      const collected = [...debounceEvents(state), event.id];
      if (collected.length >= DEBOUNCE_COLLECT_MAX) {
        dropItem(debounceItem(definition.id, keyValue, instanceOf(state)));
        write(key, undefined);
        starts.push(...(await closeOverdue(definition, collected)));
        return starts;
      }
      write(key, {
        ...state,
        eventId: event.id,
        deadline: debounceDeadline(config, state.first, now),
        count: state.count + 1,
        collected,
      });
      return starts;
    }
    skip(state.eventId, definition.id, "debounce", event.id);
    write(key, {
      ...state,
      eventId: event.id,
      deadline: debounceDeadline(config, state.first, now),
      count: state.count + 1,
    });
    return starts;
  };

  return {
    async admit(definition, event) {
      seen.set(event.id, event);
      const functionId = definition.id;
      // Idempotency and rate limits are decided per event, at arrival, as Inngest does; the
      // key is taken even when a later rule holds the event back.
      if (definition.idempotency !== undefined) {
        const keyValue = evaluateKey(definition.idempotency, event);
        const key = stateKey(prefix, "i", functionId, keyValue);
        if (idempotencyHeld(await read<IdempotencyState>(key), now)) {
          skip(event.id, functionId, "idempotency");
          return [];
        }
        write(key, { key: keyValue, eventId: event.id, exp: now + IDEMPOTENCY_WINDOW_MS });
      }
      if (definition.rateLimit) {
        const keyValue = evaluateKey(definition.rateLimit.key, event);
        const key = stateKey(prefix, "r", functionId, keyValue);
        const decision = admitRateLimit(definition.rateLimit, await read<RateLimitState>(key), now);
        if (!decision.admit) {
          skip(event.id, functionId, "rateLimit");
          return [];
        }
        write(key, { key: keyValue, tat: decision.tat });
      }
      const batching = definition.batchEvents;
      if (batching && (batching.if === undefined || matches(batching.if, { event }))) {
        return batch(definition, event);
      }
      if (definition.debounce) return debounce(definition, event);
      return startable(definition, [event]);
    },
    created(definition, run) {
      createdHere.add(run.id);
      const config = definition.singleton;
      const first = run.events[0];
      if (!config || !first) return;
      const keyValue = evaluateKey(config.key, first);
      const key = stateKey(prefix, "s", definition.id, keyValue);
      if (!cache.has(key)) cache.set(key, { version: "absent", value: undefined, dirty: false });
      write(key, { key: keyValue, runId: run.id } satisfies SingletonState);
    },
    start: startable,
    skip,
    ops() {
      const ops: StoreOp[] = [];
      for (const [key, cached] of cache) {
        if (!cached.dirty) continue;
        if (cached.value === undefined) {
          ops.push(
            cached.version === "absent"
              ? { type: "check", key, expect: "absent" }
              : { type: "delete", key, expect: cached.version },
          );
        } else {
          ops.push({ type: "set", key, value: encode(cached.value), expect: cached.version });
        }
      }
      for (const [key, record] of skips) ops.push({ type: "set", key, value: encode(record) });
      return ops;
    },
    followUps: () => follow,
  };
}

/** What firing a debounce or batch item did. */
export interface FlowControlFiring {
  /** The deadline moved on (a debounce pushed back): re-arm the item for then. */
  readonly retryAt?: number;
  /** The runs created (enqueue them, then run the follow-ups). */
  readonly committed?: CommittedRuns;
}

/**
 * Fires a debounce or batch item: when its instance is still pending and due, creates the run
 * and deletes the state in one guarded commit (with a recovery marker; the caller enqueues the
 * runs). Says when to re-arm the item if the deadline moved on (a debounce pushed back). Idempotent under
 * at-least-once delivery: a second delivery finds the state gone (or another instance) and does
 * nothing; two deliveries at once race on the state's version and one commit wins.
 */
export async function fireFlowControlItem(
  host: FlowControlHost,
  item: FlowControlItem,
): Promise<FlowControlFiring> {
  const definition = host.definition(item.functionId);
  if (!definition) return {};
  const kind = item.kind === "debounce" ? "d" : "b";
  const key = `${statePrefix(host.prefix, kind, item.functionId)}${item.keyHash}`;
  for (let tries = 0; tries < 20; tries++) {
    const now = host.clock.now();
    const control = createAdmissionControl(host, now);
    const probe = await host.store.get(key);
    if (!probe) return {};
    const state = decode<DebounceState | BatchState>(probe.value);
    if (instanceOf(state) !== item.instance) return {};
    if (state.deadline > now) return { retryAt: state.deadline };
    const ids = "eventId" in state ? debounceEvents(state) : state.events;
    const loaded = await host.store.getMany(ids.map((id) => host.keys.event(id)));
    const events = loaded.flatMap((entry) => (entry ? [decode<FlowEvent>(entry.value)] : []));
    const ops: StoreOp[] = [{ type: "delete", key, expect: probe.version }];
    const runs: RunRecord[] = [];
    // The singleton rule still applies when the run is finally created.
    const starts = events.length > 0 ? await control.start(definition, events) : [];
    for (const list of starts) {
      const created = host.runs.create(definition, list);
      control.created(definition, created.run);
      runs.push(created.run);
      ops.push(...created.ops);
    }
    ops.push(...control.ops());
    try {
      return { committed: await host.runs.commitNew(ops, runs, { follow: control.followUps() }) };
    } catch (error) {
      if (StoreConflictError.isInstance(error)) continue;
      throw error;
    }
  }
  throw new TroupeError(
    "STORE_CONFLICT",
    `flow control: ${key} kept changing; the item will retry`,
  );
}

/** Clears a finished run's singleton key (only if the key still names that run). */
export async function releaseSingleton(host: FlowControlHost, run: RunRecord): Promise<void> {
  const config = host.definition(run.functionId)?.singleton;
  const first = run.events[0];
  if (!config || !first) return;
  const key = stateKey(host.prefix, "s", run.functionId, evaluateKey(config.key, first));
  const entry = await host.store.get(key);
  if (!entry || decode<SingletonState>(entry.value).runId !== run.id) return;
  await host.store.commit([{ type: "delete", key, expect: entry.version }]).catch((error) => {
    // A newer run took the key meanwhile: it is no longer ours to clear.
    if (!StoreConflictError.isInstance(error)) throw error;
  });
}

/** The error a run cancelled by a newer singleton run finishes with. */
export const SINGLETON_CANCELLED: SerializedError = {
  name: "FLOWS_SINGLETON_CANCELLED",
  message: "cancelled: a newer run of this singleton function started (mode cancel)",
};
