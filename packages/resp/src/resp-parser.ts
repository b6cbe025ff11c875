import { isUtf8 } from "node:buffer";

/** Limits of {@link createRespParser}. */
export interface RespParserLimits {
  /** The largest bulk string (one argument), in bytes. */
  readonly maxBulkBytes: number;
  /** The most arguments one command may have. */
  readonly maxArgs: number;
  /** The longest inline command (a line typed into telnet), in bytes. */
  readonly maxInlineBytes: number;
}

/** Default limits: 8 MiB per argument, 1 M arguments, 64 KiB inline lines. */
export const DEFAULT_PARSER_LIMITS: RespParserLimits = {
  maxBulkBytes: 8 * 1024 * 1024,
  maxArgs: 1024 * 1024,
  maxInlineBytes: 64 * 1024,
};

/**
 * A malformed stream: the connection cannot be resynchronised, so the server answers with the
 * message and closes it (as Redis does).
 */
export class RespProtocolError extends Error {
  override readonly name = "RespProtocolError";
}

/** A well-formed command with an argument that is not UTF-8 text (Troupe keeps text only). */
export class RespBinaryArgument {
  constructor(
    /** The position of the first such argument (0 is the command name). */
    readonly index: number,
  ) {}
}

/** One parsed request: the arguments as text, or the note that one was not text. */
export type RespRequest = string[] | RespBinaryArgument;

/** An incremental parser of client requests (RESP arrays of bulk strings, or inline lines). */
export interface RespParser {
  /**
   * Adds bytes read from the socket and returns the requests they complete, in order. Throws
   * {@link RespProtocolError} when the stream is malformed or breaks a limit.
   */
  feed(chunk: Buffer): RespRequest[];
  /** Bytes buffered for a request not yet complete. */
  buffered(): number;
}

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;

/** Creates a request parser with the given limits. */
export function createRespParser(limits: RespParserLimits = DEFAULT_PARSER_LIMITS): RespParser {
  let buffer: Buffer = Buffer.alloc(0);
  let offset = 0;
  // Bytes the request at `offset` needs at least; parsing waits until they are buffered, so a
  // large value arriving in many chunks is not re-parsed from its start each time.
  let needed = 0;

  /** Reads a decimal integer line starting at `at` (after the type byte); undefined: incomplete. */
  const readInt = (at: number): { value: number; next: number } | undefined => {
    const end = buffer.indexOf(CR, at);
    if (end < 0) {
      if (buffer.length - at > 32) throw new RespProtocolError("invalid length line");
      return undefined;
    }
    if (end + 1 >= buffer.length) return undefined;
    if (buffer[end + 1] !== LF) throw new RespProtocolError("expected CRLF after a length");
    if (end === at || end - at > 20) throw new RespProtocolError("invalid length");
    let value = 0;
    let negative = false;
    for (let index = at; index < end; index++) {
      const byte = buffer[index] as number;
      if (index === at && byte === 45) {
        negative = true;
        continue;
      }
      if (byte < 48 || byte > 57) throw new RespProtocolError("invalid length");
      value = value * 10 + (byte - 48);
    }
    if (negative && end === at + 1) throw new RespProtocolError("invalid length");
    return { value: negative ? -value : value, next: end + 2 };
  };

  const parseArray = (start: number): { request: RespRequest; next: number } | undefined => {
    const head = readInt(start + 1);
    if (head === undefined) return undefined;
    const count = head.value;
    if (count > limits.maxArgs) throw new RespProtocolError("invalid multibulk length");
    if (count <= 0) return { request: [], next: head.next };
    const args: string[] = new Array(count);
    let binaryAt = -1;
    let at = head.next;
    for (let index = 0; index < count; index++) {
      if (at >= buffer.length) return undefined;
      if (buffer[at] !== DOLLAR) {
        throw new RespProtocolError(
          `expected '$', got '${String.fromCharCode(buffer[at] as number)}'`,
        );
      }
      const length = readInt(at + 1);
      if (length === undefined) return undefined;
      if (length.value < 0 || length.value > limits.maxBulkBytes) {
        throw new RespProtocolError("invalid bulk length");
      }
      const end = length.next + length.value;
      if (end + 2 > buffer.length) {
        needed = end + 2 - start;
        return undefined;
      }
      if (buffer[end] !== CR || buffer[end + 1] !== LF) {
        throw new RespProtocolError("expected CRLF after a bulk string");
      }
      const bytes = buffer.subarray(length.next, end);
      if (binaryAt < 0 && !isUtf8(bytes)) binaryAt = index;
      args[index] = bytes.toString("utf8");
      at = end + 2;
    }
    return { request: binaryAt >= 0 ? new RespBinaryArgument(binaryAt) : args, next: at };
  };

  const parseInline = (start: number): { request: RespRequest; next: number } | undefined => {
    const end = buffer.indexOf(LF, start);
    if (end < 0) {
      if (buffer.length - start > limits.maxInlineBytes) {
        throw new RespProtocolError("too big inline request");
      }
      return undefined;
    }
    const lineEnd = end > start && buffer[end - 1] === CR ? end - 1 : end;
    const bytes = buffer.subarray(start, lineEnd);
    if (!isUtf8(bytes)) return { request: new RespBinaryArgument(0), next: end + 1 };
    return { request: splitInline(bytes.toString("utf8")), next: end + 1 };
  };

  return {
    feed(chunk) {
      if (offset >= buffer.length) {
        buffer = chunk;
        offset = 0;
      } else {
        buffer = Buffer.concat([buffer.subarray(offset), chunk]);
        offset = 0;
      }
      const requests: RespRequest[] = [];
      if (needed > 0 && buffer.length - offset < needed) return requests;
      needed = 0;
      while (offset < buffer.length) {
        const parsed = buffer[offset] === STAR ? parseArray(offset) : parseInline(offset);
        if (parsed === undefined) break;
        offset = parsed.next;
        // Empty arrays and blank inline lines are ignored, as Redis does.
        if (!Array.isArray(parsed.request) || parsed.request.length > 0) {
          requests.push(parsed.request);
        }
      }
      if (offset >= buffer.length) {
        buffer = Buffer.alloc(0);
        offset = 0;
      }
      return requests;
    },
    buffered: () => buffer.length - offset,
  };
}

/** Splits an inline command on spaces, honouring "double" and 'single' quotes. */
export function splitInline(line: string): string[] {
  const args: string[] = [];
  let index = 0;
  while (index < line.length) {
    while (index < line.length && (line[index] === " " || line[index] === "\t")) index++;
    if (index >= line.length) break;
    const quote = line[index];
    if (quote === '"' || quote === "'") {
      let value = "";
      index++;
      while (index < line.length && line[index] !== quote) {
        if (line[index] === "\\" && quote === '"' && index + 1 < line.length) {
          const next = line[index + 1] as string;
          value += next === "n" ? "\n" : next === "r" ? "\r" : next === "t" ? "\t" : next;
          index += 2;
        } else {
          value += line[index];
          index++;
        }
      }
      if (index >= line.length) throw new RespProtocolError("unbalanced quotes in request");
      index++;
      args.push(value);
    } else {
      const start = index;
      while (index < line.length && line[index] !== " " && line[index] !== "\t") index++;
      args.push(line.slice(start, index));
    }
  }
  return args;
}
