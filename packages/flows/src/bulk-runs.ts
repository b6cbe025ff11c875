import { createJsonCodec, invalidArgument, type Store, TroupeError } from "@troupe/core";
import type { FlowsContext } from "./engine-context.js";
import { compileExpression } from "./expression.js";
import { ulidFloor } from "./keys.js";
import type { RunStatus } from "./run-state.js";

/** Runs handled per page of a bulk operation: each page is listed, then acted on, then the next. */
export const BULK_PAGE_SIZE = 100;

/** Which runs a bulk operation takes: one function's runs created in `[from, to)`. */
export interface BulkRunSelection {
  /** The function whose runs are taken. */
  readonly functionId: string;
  /** Runs created at or after this time (ms). Default: the first. */
  readonly from?: number;
  /** Runs created before this time (ms). Default: now. */
  readonly to?: number;
  /** A CEL condition over `event` (the run's triggering event); only matching runs are taken. */
  readonly if?: string;
}

/** Options of {@link Flows.cancelRuns}. */
export interface BulkCancelOptions extends BulkRunSelection {
  /** The error message the cancelled runs get. */
  readonly reason?: string;
}

/** Options of {@link Flows.replayRuns}. */
export interface BulkReplayOptions extends BulkRunSelection {
  /** Which finished runs to replay. Default both `failed` and `cancelled`. */
  readonly statuses?: readonly ("failed" | "cancelled")[];
  /** The most runs replayed by one call. Default and maximum 10 000. */
  readonly limit?: number;
}

/** What {@link Flows.cancelRuns} did. */
export interface BulkCancelResult {
  /** Runs cancelled. */
  readonly cancelled: number;
}

/** What {@link Flows.replayRuns} did: each replayed run and its new run, oldest first. */
export interface BulkReplayResult {
  readonly replays: readonly { readonly runId: string; readonly replayRunId: string }[];
}

/** Bulk actions over a function's runs. */
export interface BulkRuns {
  cancel(options: BulkCancelOptions): Promise<BulkCancelResult>;
  replay(options: BulkReplayOptions): Promise<BulkReplayResult>;
}

const MAX_REPLAYS = 10_000;
const UNFINISHED: readonly RunStatus[] = ["queued", "running"];
const REPLAYABLE = ["failed", "cancelled"] as const;

const codec = createJsonCodec<unknown>();

/**
 * Checks a selection before anything is done (errors name `field.functionId`, `.from`, `.to`,
 * `.if`), so a bad request changes nothing.
 */
export function checkSelection(selection: BulkRunSelection, field: string): void {
  if (typeof selection !== "object" || selection === null)
    throw invalidArgument(field, "expected an object");
  if (typeof selection.functionId !== "string" || selection.functionId === "")
    throw invalidArgument(`${field}.functionId`, "expected a function id (a non-empty string)");
  for (const bound of ["from", "to"] as const) {
    const value = selection[bound];
    if (value !== undefined && (!Number.isFinite(value) || value < 0))
      throw invalidArgument(`${field}.${bound}`, "expected a time in ms since the epoch");
  }
  if (selection.from !== undefined && selection.to !== undefined && selection.from > selection.to)
    throw invalidArgument(`${field}.to`, "must not be before from");
  if (selection.if !== undefined) {
    if (typeof selection.if !== "string" || selection.if === "")
      throw invalidArgument(`${field}.if`, "expected a CEL expression");
    compileExpression(selection.if, `${field}.if`);
  }
}

/**
 * Pages through the index of one function's runs created in the selection's range, in creation
 * order, yielding the ids of those whose status is in `statuses`. Paging follows the index key,
 * so runs whose status the caller changes between pages are neither skipped nor seen twice.
 */
async function* selectRuns(
  store: Store,
  base: string,
  selection: BulkRunSelection,
  statuses: ReadonlySet<RunStatus>,
  now: number,
): AsyncGenerator<string[]> {
  let start = base + (selection.from === undefined ? "" : ulidFloor(selection.from));
  const end = base + ulidFloor(selection.to ?? now + 1);
  for (;;) {
    const page = await store.list({ prefix: base, start, end, limit: BULK_PAGE_SIZE });
    const ids = page.flatMap((entry) => {
      const { s } = codec.decode(entry.value) as { s: RunStatus };
      return statuses.has(s) ? [entry.key.slice(base.length)] : [];
    });
    if (ids.length > 0) yield ids;
    const last = page[page.length - 1];
    if (page.length < BULK_PAGE_SIZE || !last) return;
    start = `${last.key}\u0000`;
  }
}

/** Creates the bulk actions of an engine. */
export function createBulkRuns(ctx: FlowsContext): BulkRuns {
  /** The runs of a page that match the selection's condition. */
  const matching = async (ids: readonly string[], condition: string | undefined) => {
    if (condition === undefined) return ids;
    const test = compileExpression(condition, "if");
    const kept: string[] = [];
    for (const id of ids) {
      const loaded = await ctx.runs.load(id);
      if (loaded && test({ event: loaded.run.events[0] ?? {} }) === true) kept.push(id);
    }
    return kept;
  };

  return {
    async cancel(options) {
      checkSelection(options, "cancelRuns");
      const base = ctx.keys.runsByFunction(options.functionId);
      const error = {
        name: "FLOWS_CANCELLED",
        message: options.reason ?? "cancelled by a bulk cancellation",
      };
      let cancelled = 0;
      const pages = selectRuns(ctx.store, base, options, new Set(UNFINISHED), ctx.clock.now());
      for await (const ids of pages) {
        for (const id of await matching(ids, options.if)) {
          if (await ctx.actions.cancel(id, error)) cancelled++;
        }
      }
      return { cancelled };
    },

    async replay(options) {
      checkSelection(options, "replayRuns");
      if (!ctx.registry.has(options.functionId))
        throw new TroupeError("NOT_FOUND", `function ${options.functionId} is not registered`, {
          details: { functionId: options.functionId },
        });
      const statuses = options.statuses ?? REPLAYABLE;
      if (
        !Array.isArray(statuses) ||
        statuses.length === 0 ||
        statuses.some((status) => !REPLAYABLE.includes(status))
      )
        throw invalidArgument(
          "replayRuns.statuses",
          'expected a non-empty list of "failed" and "cancelled"',
        );
      const limit = options.limit ?? MAX_REPLAYS;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REPLAYS)
        throw invalidArgument("replayRuns.limit", `expected an integer in 1..${MAX_REPLAYS}`);
      const base = ctx.keys.runsByFunction(options.functionId);
      // Replays are created after `now`, so they fall outside the range and are not replayed again.
      const now = ctx.clock.now();
      const to = Math.min(options.to ?? now, now);
      const replays: { runId: string; replayRunId: string }[] = [];
      const pages = selectRuns(ctx.store, base, { ...options, to }, new Set(statuses), now);
      for await (const ids of pages) {
        for (const runId of await matching(ids, options.if)) {
          replays.push({ runId, replayRunId: await ctx.actions.rerun(runId) });
          if (replays.length >= limit) return { replays };
        }
      }
      return { replays };
    },
  };
}
