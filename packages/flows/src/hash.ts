import { createHash } from "node:crypto";

/**
 * Hashes already worked out, by `id` and repeat. A function's step ids are few and hashed again
 * on every step of every run, so this saves a sha1 per step; the map is cleared when it grows past
 * {@link MAX_HASHES} (ids made per run, such as ones holding a run id, would otherwise pile up).
 */
const hashes = new Map<string, string>();
const MAX_HASHES = 10_000;

/**
 * The hash of a step id, as Inngest SDKs compute it: sha1 hex of the id, where the n-th repeat
 * (n ≥ 1) of an id within one run is hashed as `id:n`.
 */
export function stepHash(id: string, repeat: number): string {
  const text = repeat === 0 ? id : `${id}:${repeat}`;
  let hash = hashes.get(text);
  if (hash === undefined) {
    hash = createHash("sha1").update(text).digest("hex");
    if (hashes.size >= MAX_HASHES) hashes.clear();
    hashes.set(text, hash);
  }
  return hash;
}
