import { createHash } from "node:crypto";

/**
 * The hash of a step id, as Inngest SDKs compute it: sha1 hex of the id, where the n-th repeat
 * (n ≥ 1) of an id within one run is hashed as `id:n`.
 */
export function stepHash(id: string, repeat: number): string {
  return createHash("sha1")
    .update(repeat === 0 ? id : `${id}:${repeat}`)
    .digest("hex");
}
