import { createJsonCodec, type Expectation } from "@troupe/core";

/** The registration under `<prefix>sg/<signal>`: the run step waiting for the signal. */
export interface SignalEntry {
  readonly runId: string;
  /** The waiting step's hash. */
  readonly hash: string;
  /** When the wait times out, ms. */
  readonly expiresAt: number;
}

/**
 * Who holds a signal as a transition sees it, read just before: the entry (if any), whether its
 * wait is still live (not timed out, its run unfinished and the step still waiting), and the
 * key's version, so the new registration is committed only if nobody took the signal meanwhile.
 */
export interface SignalHolder {
  readonly entry?: SignalEntry;
  readonly live: boolean;
  readonly expect: Expectation;
}

const codec = createJsonCodec<unknown>();

/** The bytes of a signal entry. */
export function encodeSignalEntry(entry: SignalEntry): Uint8Array {
  return codec.encode({ r: entry.runId, h: entry.hash, exp: entry.expiresAt });
}

/** A signal entry from its bytes. */
export function decodeSignalEntry(bytes: Uint8Array): SignalEntry {
  const stored = codec.decode(bytes) as { r: string; h: string; exp: number };
  return { runId: stored.r, hash: stored.h, expiresAt: stored.exp };
}
