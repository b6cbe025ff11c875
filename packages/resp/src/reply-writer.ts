import type { Reply } from "./reply.js";

/** The protocol version a connection speaks: 2 (default) or 3 after `HELLO 3`. */
export type RespVersion = 2 | 3;

const CRLF = "\r\n";

function bulk(text: string): string {
  // Byte length, not UTF-16 length: the common ASCII case skips the UTF-8 count.
  let ascii = true;
  for (let index = 0; index < text.length; index++) {
    if (text.charCodeAt(index) > 127) {
      ascii = false;
      break;
    }
  }
  const length = ascii ? text.length : Buffer.byteLength(text, "utf8");
  return `$${length}${CRLF}${text}${CRLF}`;
}

// Status and error lines may not hold line breaks.
function line(text: string): string {
  return text.includes("\r") || text.includes("\n") ? text.replace(/[\r\n]+/g, " ") : text;
}

/** Encodes one reply in RESP2 or RESP3 (as text; bulk lengths count UTF-8 bytes). */
export function encodeReply(reply: Reply, version: RespVersion): string {
  if (reply === null) return version === 3 ? `_${CRLF}` : `$-1${CRLF}`;
  switch (typeof reply) {
    case "string":
      return bulk(reply);
    case "number":
      return Number.isInteger(reply)
        ? `:${reply}${CRLF}`
        : version === 3
          ? `,${reply}${CRLF}`
          : bulk(String(reply));
    case "bigint":
      return `:${reply}${CRLF}`;
    default:
      break;
  }
  if (Array.isArray(reply)) return encodeArray("*", reply, version);
  if ("simple" in reply) return `+${line(reply.simple)}${CRLF}`;
  if ("error" in reply) return `-${line(reply.error)}${CRLF}`;
  if ("map" in reply) {
    if (version === 2) return encodeArray("*", reply.map, version);
    let out = `%${reply.map.length / 2}${CRLF}`;
    for (const item of reply.map) out += encodeReply(item, version);
    return out;
  }
  if ("set" in reply) return encodeArray(version === 3 ? "~" : "*", reply.set, version);
  if ("push" in reply) return encodeArray(version === 3 ? ">" : "*", reply.push, version);
  if ("nullArray" in reply) return version === 3 ? `_${CRLF}` : `*-1${CRLF}`;
  if (version === 2) return bulk(reply.verbatim);
  const body = `txt:${reply.verbatim}`;
  return `=${Buffer.byteLength(body, "utf8")}${CRLF}${body}${CRLF}`;
}

function encodeArray(prefix: string, items: readonly Reply[], version: RespVersion): string {
  let out = `${prefix}${items.length}${CRLF}`;
  for (const item of items) out += encodeReply(item, version);
  return out;
}
