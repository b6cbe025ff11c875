import type { Snapshot } from "@troupe/stats";

// A snapshot served from L1 is the same object many times over: its JSON bytes are kept with it,
// made once per snapshot (a new actor version or registry epoch is a new snapshot object).
const encoded = new WeakMap<Snapshot, Buffer>();

/** The JSON of `snapshot` as UTF-8 bytes, serialised once per snapshot object. */
export function snapshotBytes(snapshot: Snapshot): Buffer {
  let bytes = encoded.get(snapshot);
  if (bytes === undefined) {
    bytes = Buffer.from(JSON.stringify(snapshot), "utf8");
    encoded.set(snapshot, bytes);
  }
  return bytes;
}
