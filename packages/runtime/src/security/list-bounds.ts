/** Default most bytes of one list response (`/api/runs`, `/api/events`): 4 MiB. */
export const DEFAULT_LIST_LIMIT_BYTES = 4 * 1024 * 1024;

/** The JSON size of `value` in UTF-8 bytes. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "null", "utf8");
}

/**
 * The longest prefix of `items` whose JSON fits in `maxBytes` (one item at least, so a page
 * always makes progress), and whether items were left out. A list page is bounded by bytes as
 * well as by count: a page of fifty 500 KiB events would otherwise be built whole in memory.
 */
export function takeWithinBytes<T>(
  items: readonly T[],
  maxBytes: number,
): { readonly items: T[]; readonly truncated: boolean } {
  const kept: T[] = [];
  // `[` and `]`, then a comma between items.
  let total = 2;
  for (const item of items) {
    const size = jsonBytes(item) + (kept.length > 0 ? 1 : 0);
    if (kept.length > 0 && total + size > maxBytes) return { items: kept, truncated: true };
    kept.push(item);
    total += size;
  }
  return { items: kept, truncated: false };
}
