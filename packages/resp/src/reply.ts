/**
 * A reply as commands produce it: plain JSON (plus bigint), so a reply computed by a key's actor
 * on another node travels back unchanged.
 *
 * - `null`: the null bulk string (RESP2 `$-1`, RESP3 `_`)
 * - `string`: a bulk string
 * - `number` / `bigint`: an integer
 * - array: an array
 * - `{ simple }`: a status line (`+OK`)
 * - `{ error }`: an error line; the text starts with its code (`ERR …`, `WRONGTYPE …`)
 * - `{ map }`: key/value pairs (a RESP3 map, a flat array in RESP2)
 * - `{ set }`: members (a RESP3 set, an array in RESP2)
 * - `{ nullArray }`: the null array (RESP2 `*-1`, RESP3 `_`)
 * - `{ push }`: an out-of-band message (a RESP3 push, an array in RESP2)
 * - `{ verbatim }`: text (`INFO`; a RESP3 verbatim string, a bulk string in RESP2)
 */
export type Reply =
  | null
  | string
  | number
  | bigint
  | Reply[]
  | { readonly simple: string }
  | { readonly error: string }
  | { readonly map: Reply[] }
  | { readonly set: Reply[] }
  | { readonly nullArray: true }
  | { readonly push: Reply[] }
  | { readonly verbatim: string };

/** `+OK`. */
export const OK: Reply = { simple: "OK" };

/** An error reply; `text` starts with its code (`ERR`, `WRONGTYPE`, `NOAUTH`, …). */
export function errorReply(text: string): Reply {
  return { error: text };
}

/** The reply for a command given the wrong number of arguments. */
export function arityError(name: string): Reply {
  return { error: `ERR wrong number of arguments for '${name.toLowerCase()}' command` };
}

/** The reply for a key holding another type. */
export const WRONGTYPE: Reply = {
  error: "WRONGTYPE Operation against a key holding the wrong kind of value",
};

/** The reply for an argument that should be an integer. */
export const NOT_INTEGER: Reply = { error: "ERR value is not an integer or out of range" };

/** The reply for a malformed option list. */
export const SYNTAX_ERROR: Reply = { error: "ERR syntax error" };

/** True when `reply` is an error reply. */
export function isErrorReply(reply: Reply): reply is { readonly error: string } {
  return typeof reply === "object" && reply !== null && !Array.isArray(reply) && "error" in reply;
}
