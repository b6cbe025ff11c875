import { createJsonCodec, invalidArgument, type Store } from "@troupe/core";
import type { FlowEvent } from "./event.js";
import type { SkipRecord } from "./flow-control/admission.js";
import type {
  EventRuns,
  ListEventsOptions,
  ListRunsOptions,
  RunSummary,
  RunView,
  StepView,
} from "./flows-api.js";
import { type FlowKeys, ulidFloor } from "./keys.js";
import type { RunRecord, RunStatus } from "./run-state.js";

const codec = createJsonCodec<unknown>();
const decode = <T>(bytes: Uint8Array) => codec.decode(bytes) as T;

/**
 * A run's entry in the function and all-runs indexes, as stored: what listings show without the
 * record, in short fields (two entries per run). {@link encodeIndexEntry} and {@link summaryOf}
 * are the only code that reads or writes them.
 */
interface StoredIndexEntry {
  readonly f: string;
  readonly s: RunStatus;
  readonly c: number;
  readonly e?: number;
}

/** The bytes of a run's index entry. */
export function encodeIndexEntry(run: RunRecord): Uint8Array {
  const stored: StoredIndexEntry =
    run.endedAt === undefined
      ? { f: run.functionId, s: run.status, c: run.createdAt }
      : { f: run.functionId, s: run.status, c: run.createdAt, e: run.endedAt };
  return codec.encode(stored);
}

/** The summary of run `id` from its index entry's bytes. */
function summaryOf(id: string, bytes: Uint8Array): RunSummary {
  const stored = decode<StoredIndexEntry>(bytes);
  return {
    id,
    functionId: stored.f,
    status: stored.s,
    createdAt: stored.c,
    ...(stored.e === undefined ? {} : { endedAt: stored.e }),
  };
}

/** A run record as queries show it. */
export function viewRun(run: RunRecord): RunView {
  const order = [
    ...run.stack,
    ...Object.keys(run.steps).filter((hash) => !run.stack.includes(hash)),
  ];
  const steps: StepView[] = order.flatMap((hash) => {
    const step = run.steps[hash];
    if (!step) return [];
    return [
      {
        hash,
        id: step.name,
        op: step.op,
        status: step.status,
        attempts: step.attempts,
        ...(step.startedAt === undefined ? {} : { startedAt: step.startedAt }),
        ...(step.endedAt === undefined ? {} : { endedAt: step.endedAt }),
        ...(step.input === undefined ? {} : { input: step.input }),
        ...(step.output === undefined ? {} : { output: step.output }),
        ...(step.error === undefined ? {} : { error: step.error }),
        ...(step.errors === undefined ? {} : { errors: step.errors }),
        ...(step.at === undefined ? {} : { at: step.at }),
      },
    ];
  });
  return {
    id: run.id,
    functionId: run.functionId,
    status: run.status,
    createdAt: run.createdAt,
    events: run.events,
    steps,
    ...(run.startedAt === undefined ? {} : { startedAt: run.startedAt }),
    ...(run.endedAt === undefined ? {} : { endedAt: run.endedAt }),
    ...(run.output === undefined ? {} : { output: run.output }),
    ...(run.error === undefined ? {} : { error: run.error }),
    ...(run.rerunOf === undefined ? {} : { rerunOf: run.rerunOf }),
    ...(run.parent === undefined ? {} : { parentRunId: run.parent.runId }),
  };
}

function timeRange(base: string, from: number | undefined, to: number | undefined) {
  return {
    prefix: base,
    ...(from === undefined ? {} : { start: base + ulidFloor(from) }),
    ...(to === undefined ? {} : { end: base + ulidFloor(to) }),
  };
}

/** Runs by function, status and creation time, from the run indexes. */
export async function listRunIndex(
  store: Store,
  keys: FlowKeys,
  query: ListRunsOptions,
): Promise<RunSummary[]> {
  const limit = query.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1)
    throw invalidArgument("listRuns.limit", "expected a positive integer");
  const statuses =
    query.status === undefined
      ? undefined
      : new Set(typeof query.status === "string" ? [query.status] : query.status);
  const base =
    query.functionId === undefined ? keys.runsAll() : keys.runsByFunction(query.functionId);
  const range = timeRange(base, query.from, query.to);
  const out: RunSummary[] = [];
  let cursor: string | undefined;
  const reverse = query.newestFirst === true;
  for (;;) {
    const page = await store.list({
      ...range,
      limit: 500,
      reverse,
      ...(cursor === undefined ? {} : reverse ? { end: cursor } : { start: `${cursor}\u0000` }),
    });
    for (const entry of page) {
      const summary = summaryOf(entry.key.slice(base.length), entry.value);
      if (statuses && !statuses.has(summary.status)) continue;
      out.push(summary);
      if (out.length >= limit) return out;
    }
    if (page.length < 500) return out;
    cursor = page[page.length - 1]?.key;
  }
}

/** Events by name and time. */
export async function listEventEntries(
  store: Store,
  keys: FlowKeys,
  query: ListEventsOptions,
): Promise<FlowEvent[]> {
  const limit = query.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1)
    throw invalidArgument("listEvents.limit", "expected a positive integer");
  const base = query.name === undefined ? keys.eventsAll() : keys.eventsByName(query.name);
  const entries = await store.list({
    ...timeRange(base, query.from, query.to),
    limit,
    reverse: query.newestFirst === true,
  });
  return entries.map((entry) => decode<FlowEvent>(entry.value));
}

/** Summaries of the runs with these ids, in the same order (runs without an index entry left out). */
export async function runSummaries(
  store: Store,
  keys: FlowKeys,
  runIds: readonly string[],
): Promise<RunSummary[]> {
  const entries = await store.getMany(runIds.map((runId) => keys.runAll(runId)));
  return runIds.flatMap((id, position) => {
    const entry = entries[position];
    return entry ? [summaryOf(id, entry.value)] : [];
  });
}

/** An event by id. */
export async function getEventEntry(
  store: Store,
  keys: FlowKeys,
  eventId: string,
): Promise<FlowEvent | undefined> {
  const entry = await store.get(keys.event(eventId));
  return entry ? decode<FlowEvent>(entry.value) : undefined;
}

/** The runs an event started and the functions it started none of, with the reason. */
export async function eventRuns(store: Store, keys: FlowKeys, eventId: string): Promise<EventRuns> {
  const [byEvent, skipEntries] = await Promise.all([
    store.list({ prefix: keys.runsByEvent(eventId), limit: 1000 }),
    store.list({ prefix: keys.eventSkips(eventId), limit: 1000 }),
  ]);
  const base = keys.runsByEvent(eventId);
  const runIds = byEvent.map((entry) => entry.key.slice(base.length));
  const runs = await runSummaries(store, keys, runIds);
  const skipped = skipEntries.map((entry) => decode<SkipRecord>(entry.value));
  return { runs, skipped };
}
