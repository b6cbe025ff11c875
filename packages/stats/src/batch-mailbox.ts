// A chunk's answer left in shared memory instead of posted: the calling thread gives each chunk a
// SharedArrayBuffer (its mailbox), the worker packs the outcomes into it and marks it done, and
// the calling thread looks at its mailboxes on its own 1 ms timer. A posted answer wakes the
// calling thread's event loop whenever it arrives, and libuv, whose clock counts whole
// milliseconds, then sleeps past its next timer by the fraction of a millisecond it woke at; a
// mailbox wakes nothing.
//
// Layout: a header of 8 int32 (state, actors, values offset and length, meta offset and length,
// the bytes the answer needed), the chunk's layout (4 int32 per actor), its values (float64,
// 8-byte aligned), then its key lists and extras serialised with `node:v8` (which keeps −0).
import { deserialize, serialize } from "node:v8";
import type { EncodedOutcomes, OutcomeExtras, OutcomeSpace } from "./batch-protocol.js";

const HEADER_BYTES = 32;
const STATE = 0;
const ACTORS = 1;
const VALUES_AT = 2;
const VALUES_LENGTH = 3;
const META_AT = 4;
const META_LENGTH = 5;
const NEEDED = 6;
/** The worker has written the whole answer. */
const DONE = 1;

const valuesOffset = (actors: number) => (HEADER_BYTES + 16 * actors + 7) & ~7;

/** Where `encodeOutcomes` packs into `mailbox`, when the chunk fits there. */
export function mailboxSpace(mailbox: SharedArrayBuffer): OutcomeSpace {
  return (actors, values) => {
    const at = valuesOffset(actors);
    if (at + 8 * values > mailbox.byteLength) return undefined;
    return {
      layout: new Int32Array(mailbox, HEADER_BYTES, 4 * actors),
      values: new Float64Array(mailbox, at, values),
    };
  };
}

/** The serialised part of an answer: its key lists, and its extras when any actor has some. */
type Meta = [readonly (readonly string[])[], readonly (OutcomeExtras | undefined)[] | null];

/** An answer's key lists and extras serialised, and the mailbox bytes the whole answer needs. */
export function mailboxNeeds(encoded: EncodedOutcomes): { meta: Buffer; bytes: number } {
  const extras = encoded.extras.some((extra) => extra !== undefined) ? encoded.extras : null;
  const meta = serialize([encoded.keyLists, extras] satisfies Meta);
  const actors = encoded.layout.length / 4;
  return { meta, bytes: valuesOffset(actors) + encoded.values.byteLength + meta.length };
}

/**
 * Completes the answer in `mailbox` (the worker): true when `encoded` was packed into it and its
 * meta fits after the values, false when the answer must be posted instead.
 */
export function sealMailbox(
  mailbox: SharedArrayBuffer,
  encoded: EncodedOutcomes,
  needs: { meta: Buffer; bytes: number },
): boolean {
  if (encoded.values.buffer !== mailbox || needs.bytes > mailbox.byteLength) return false;
  const header = new Int32Array(mailbox, 0, HEADER_BYTES / 4);
  const metaAt = encoded.values.byteOffset + encoded.values.byteLength;
  new Uint8Array(mailbox, metaAt, needs.meta.length).set(needs.meta);
  header[ACTORS] = encoded.layout.length / 4;
  header[VALUES_AT] = encoded.values.byteOffset;
  header[VALUES_LENGTH] = encoded.values.length;
  header[META_AT] = metaAt;
  header[META_LENGTH] = needs.meta.length;
  header[NEEDED] = needs.bytes;
  // The store that publishes: everything written above is seen by a thread that loads DONE.
  Atomics.store(header, STATE, DONE);
  return true;
}

/** The answer in `mailbox` (the calling thread), or undefined while the worker is on it. */
export function openMailbox(
  mailbox: SharedArrayBuffer,
): { outcomes: EncodedOutcomes; bytes: number } | undefined {
  const header = new Int32Array(mailbox, 0, HEADER_BYTES / 4);
  if (Atomics.load(header, STATE) !== DONE) return undefined;
  const actors = header[ACTORS] as number;
  const [keyLists, extras] = deserialize(
    new Uint8Array(mailbox, header[META_AT] as number, header[META_LENGTH] as number),
  ) as Meta;
  const outcomes: EncodedOutcomes = {
    values: new Float64Array(mailbox, header[VALUES_AT] as number, header[VALUES_LENGTH] as number),
    layout: new Int32Array(mailbox, HEADER_BYTES, 4 * actors),
    keyLists,
    extras: extras ?? new Array<undefined>(actors),
  };
  return { outcomes, bytes: header[NEEDED] as number };
}
