// How the batch tests compare results: everything a result holds, numbers as float64 bit patterns
// (so −0 and +0 differ and any NaN payload shows), keys in their own order.
import { TroupeError } from "@troupe/core";
import type { BatchResult } from "../src/index.js";

/** A number's float64 bit pattern. */
export function bits(value: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value);
  return view.getBigUint64(0).toString(16);
}

/** Everything a batch result holds, numbers as bit patterns, keys in their own order. */
export function exact(result: BatchResult): unknown {
  if (result.error !== undefined) {
    return {
      actorId: result.actorId,
      code: TroupeError.isInstance(result.error) ? result.error.code : "(plain)",
      message: result.error.message,
    };
  }
  const s = result.snapshot;
  const map = (values: Readonly<Record<string, number>>) =>
    Object.keys(values).map((key) => [key, bits(values[key] as number)]);
  return {
    actorId: result.actorId,
    id: s.actor_id,
    version: s.version,
    epoch: s.epoch,
    created_at: s.created_at,
    primary: map(s.primary),
    derived: map(s.derived),
    caps: Object.keys(s.caps_used).map((key) => {
      const bounds = s.caps_used[key] as { min: number; max: number };
      return [key, bits(bounds.min), bits(bounds.max)];
    }),
    context: s.context === undefined ? null : JSON.stringify(s.context),
    failed: s.failed_systems ?? null,
  };
}
