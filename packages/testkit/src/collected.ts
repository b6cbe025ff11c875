// Whether something is still kept in memory: a test hands out a WeakRef to an object it expects to
// be dropped (an ended activation's state, say) and asks whether the collector can take it. Turns
// of the event loop, never time: no wall clock in the answer.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let gc: (() => void) | undefined;

/** A full collection, with `--expose-gc` turned on for this process on first use. */
export function collectGarbage(): void {
  if (gc === undefined) {
    setFlagsFromString("--expose-gc");
    gc = runInNewContext("gc") as () => void;
  }
  gc();
}

/**
 * Whether the object `ref` points to is collected within a few full collections, each on a later
 * turn of the event loop (a WeakRef's target survives the job that created or read it).
 */
export async function collected(ref: WeakRef<object>, attempts = 5): Promise<boolean> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    collectGarbage();
    if (ref.deref() === undefined) return true;
  }
  return false;
}
