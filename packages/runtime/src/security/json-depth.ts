/** Deepest JSON nesting a request body may have (objects and arrays inside each other). */
export const MAX_JSON_DEPTH = 512;

const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * Whether the JSON in `bytes` (UTF-8) nests objects and arrays deeper than `maxDepth`. One pass,
 * no parse: brackets inside strings are skipped, and in UTF-8 no byte of a multi-byte character
 * can be mistaken for a bracket or a quote. Text that is not JSON is scanned the same way and
 * left for the parser to refuse. Deep nesting parses fine but overflows the stack of every
 * recursive walk after it (validation, copies, serialisation): a 500 instead of a 400.
 */
export function exceedsJsonDepth(bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < bytes.length; index++) {
    const byte = bytes[index];
    if (inString) {
      if (byte === BACKSLASH) index++;
      else if (byte === QUOTE) inString = false;
      continue;
    }
    if (byte === QUOTE) inString = true;
    else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      depth++;
      if (depth > maxDepth) return true;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) depth--;
  }
  return false;
}
