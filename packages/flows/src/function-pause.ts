import { createJsonCodec, invalidArgument, type Store, StoreConflictError } from "@troupe/core";

/**
 * Pausing a function. While paused, events that trigger it are stored as usual but start no run
 * of it: each is recorded as skipped with reason `"paused"` (`getEventRuns` shows it), and cron
 * ticks fire into the same skip. Resuming does not start runs for the events received meanwhile
 * (replay them if they should run), which is what Inngest does. Runs already in flight keep going.
 * The state lives in the Store, so every process of a cluster sees it; ingestion reads it at most
 * once per `refreshMs` (a pause made by another process applies within that time, one made by
 * this process at once).
 */
export interface FunctionPauses {
  /** Pauses `functionId`; resolves to false when it was already paused. */
  pause(functionId: string, reason?: string): Promise<boolean>;
  /** Resumes `functionId`; resolves to false when it was not paused. */
  resume(functionId: string): Promise<boolean>;
  /** The paused functions (cached for `refreshMs`; a local pause or resume clears the cache). */
  paused(): Promise<ReadonlySet<string>>;
  /** Every paused function with when and why it was paused. */
  list(): Promise<PausedFunction[]>;
}

/** A paused function as listings show it. */
export interface PausedFunction {
  /** The function's id. */
  readonly functionId: string;
  /** When it was paused, ms since the epoch. */
  readonly pausedAt: number;
  /** Why, as given to `pauseFunction`. */
  readonly reason?: string;
}

/** The skip reason of an event that reached a paused function. */
export const PAUSED_SKIP_REASON = "paused";

const codec = createJsonCodec<unknown>();

/** Creates the pause state of an engine under `<prefix>fp/`. */
export function createFunctionPauses(
  store: Store,
  prefix: string,
  now: () => number,
  refreshMs = 1000,
): FunctionPauses {
  let cached: { readonly at: number; readonly ids: ReadonlySet<string> } | undefined;
  // One refresh at a time: the sends that find the cache stale together share its read.
  let refreshing: Promise<ReadonlySet<string>> | undefined;
  const base = `${prefix}fp/`;
  const keyOf = (functionId: string) => `${base}${encodeURIComponent(functionId)}`;
  const checkId = (functionId: unknown, field: string): string => {
    if (typeof functionId !== "string" || functionId === "")
      throw invalidArgument(field, "expected a function id (a non-empty string)");
    return functionId;
  };
  const list = async (): Promise<PausedFunction[]> => {
    const entries = await store.list({ prefix: base, limit: 10_000 });
    return entries.map((entry) => codec.decode(entry.value) as PausedFunction);
  };
  return {
    async pause(functionId, reason) {
      const id = checkId(functionId, "pauseFunction.functionId");
      if (reason !== undefined && typeof reason !== "string")
        throw invalidArgument("pauseFunction.reason", "expected a string");
      if (await store.get(keyOf(id))) return false;
      const record: PausedFunction = {
        functionId: id,
        pausedAt: now(),
        ...(reason === undefined ? {} : { reason }),
      };
      try {
        await store.commit([
          { type: "set", key: keyOf(id), value: codec.encode(record), expect: "absent" },
        ]);
      } catch (error) {
        // Another caller paused it first: it is paused either way.
        if (StoreConflictError.isInstance(error)) return false;
        throw error;
      } finally {
        cached = undefined;
        refreshing = undefined;
      }
      return true;
    },
    async resume(functionId) {
      const id = checkId(functionId, "resumeFunction.functionId");
      const entry = await store.get(keyOf(id));
      if (!entry) return false;
      await store.commit([{ type: "delete", key: keyOf(id) }]);
      cached = undefined;
      refreshing = undefined;
      return true;
    },
    async paused() {
      const at = now();
      if (cached && at - cached.at < refreshMs && at >= cached.at) return cached.ids;
      if (refreshing) return refreshing;
      const refresh = list().then((paused) => {
        const ids = new Set(paused.map((entry) => entry.functionId));
        // A pause or resume during the read dropped the cache: this read may predate it.
        if (refreshing === refresh) cached = { at, ids };
        return ids;
      });
      refreshing = refresh;
      try {
        return await refresh;
      } finally {
        if (refreshing === refresh) refreshing = undefined;
      }
    },
    list,
  };
}
