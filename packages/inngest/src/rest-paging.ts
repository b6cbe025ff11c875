import { invalidArgument, isUlid, ulidTime } from "@troupe/core";

/** Default most bytes of one REST list page (`GET /v1/events`): 4 MiB. */
export const DEFAULT_MAX_LIST_BYTES = 4 * 1024 * 1024;

/** What {@link pageNewestFirst} lists from: items newest first, below `to` (ms) when given. */
export type ListNewestFirst<T> = (query: { limit: number; to?: number }) => Promise<readonly T[]>;

/** Which items a newest-first page holds: at most `limit`, below `to` (ms), after `cursor`. */
export interface CursorWindow {
  readonly limit: number;
  readonly to?: number | undefined;
  /** The id of the last item of the previous page. */
  readonly cursor?: string | undefined;
}

/**
 * One page of an id-ordered listing, newest first, bounded by count and by bytes of JSON
 * (`toJson` gives what is sent for an item). `cursor` is the id of the last item of the previous
 * page; the ids are ULIDs, so the next page holds the ids below it. The listing filters by
 * millisecond only, so items of the cursor's own millisecond are fetched again and dropped.
 * A page keeps one item at least, so paging always moves on.
 */
export async function pageNewestFirst<T extends { readonly id: string }>(
  list: ListNewestFirst<T>,
  options: CursorWindow & {
    readonly maxBytes: number;
    readonly toJson: (item: T) => unknown;
  },
): Promise<{ readonly data: unknown[]; readonly cursor: string | undefined }> {
  const { cursor, limit } = options;
  if (cursor !== undefined && !isUlid(cursor)) {
    throw invalidArgument("cursor", "expected the cursor of a previous page");
  }
  const { items: kept, more } = await fetchBeforeCursor(list, { limit, to: options.to, cursor });
  const data: unknown[] = [];
  let bytes = 2;
  let last: T | undefined;
  for (const item of kept) {
    const json = options.toJson(item);
    const size = Buffer.byteLength(JSON.stringify(json) ?? "null") + 1;
    if (data.length > 0 && bytes + size > options.maxBytes) {
      return { data, cursor: last?.id };
    }
    data.push(json);
    bytes += size;
    last = item;
  }
  return { data, cursor: more ? last?.id : undefined };
}

/**
 * The next `limit` items of an id-ordered listing, newest first, after `cursor` (the id of the
 * last item of the previous page), and whether more follow. The ids are ULIDs, so the items after
 * the cursor hold the ids below it; the listing filters by millisecond only, so items of the
 * cursor's own millisecond are fetched again and dropped, and the fetch grows until the page is
 * full or the listing ends. The one windowing step of every newest-first list page (REST and
 * dashboard); each caller bounds the page by bytes its own way.
 */
export async function fetchBeforeCursor<T extends { readonly id: string }>(
  list: ListNewestFirst<T>,
  options: CursorWindow,
): Promise<{ readonly items: T[]; readonly more: boolean }> {
  const { cursor, limit } = options;
  let upper = options.to;
  if (cursor !== undefined) {
    const cursorEnd = ulidTime(cursor) + 1;
    upper = upper === undefined ? cursorEnd : Math.min(upper, cursorEnd);
  }
  for (let fetch = limit + 1 + (cursor === undefined ? 0 : 32); ; fetch *= 4) {
    const items = await list({ limit: fetch, ...(upper === undefined ? {} : { to: upper }) });
    const kept = cursor === undefined ? [...items] : items.filter((item) => item.id < cursor);
    if (kept.length <= limit && items.length >= fetch) continue;
    return { items: kept.slice(0, limit), more: kept.length > limit };
  }
}
