import { PgError, SQLSTATE } from "./pg-error.js";

/** Builds backend messages into one buffer per flush. */
export class MessageWriter {
  private chunks: Buffer[] = [];
  private size = 0;

  private push(type: string | undefined, body: Buffer): void {
    const header = Buffer.allocUnsafe(type === undefined ? 4 : 5);
    if (type === undefined) header.writeInt32BE(body.length + 4, 0);
    else {
      header.write(type, 0, "latin1");
      header.writeInt32BE(body.length + 4, 1);
    }
    this.chunks.push(header, body);
    this.size += header.length + body.length;
  }

  /** A message of `type` with body built from parts. */
  message(type: string, ...parts: (Buffer | string | number)[]): void {
    this.push(type, concatParts(parts));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.size;
  }

  /** Takes the bytes written so far. */
  take(): Buffer {
    const out = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    return out;
  }

  authentication(code: number, payload?: Buffer): void {
    this.message("R", int32(code), ...(payload ? [payload] : []));
  }

  parameterStatus(name: string, value: string): void {
    this.message("S", cstring(name), cstring(value));
  }

  backendKeyData(processId: number, secret: number): void {
    this.message("K", int32(processId), int32(secret));
  }

  readyForQuery(status: "I" | "T" | "E"): void {
    this.message("Z", Buffer.from(status, "latin1"));
  }

  rowDescription(fields: readonly { name: string; typeOid: number; typeSize: number }[]): void {
    const parts: Buffer[] = [int16(fields.length)];
    for (const field of fields) {
      const meta = Buffer.alloc(18);
      meta.writeInt32BE(0, 0); // table oid
      meta.writeInt16BE(0, 4); // column number
      meta.writeInt32BE(field.typeOid, 6);
      meta.writeInt16BE(field.typeSize, 10);
      meta.writeInt32BE(-1, 12); // type modifier
      meta.writeInt16BE(0, 16); // text format
      parts.push(cstring(field.name), meta);
    }
    this.message("T", ...parts);
  }

  dataRow(values: readonly (string | null)[]): void {
    const parts: Buffer[] = [int16(values.length)];
    for (const value of values) {
      if (value === null) parts.push(int32(-1));
      else {
        const bytes = Buffer.from(value, "utf8");
        parts.push(int32(bytes.length), bytes);
      }
    }
    this.message("D", ...parts);
  }

  commandComplete(tag: string): void {
    this.message("C", cstring(tag));
  }

  parameterDescription(typeOids: readonly number[]): void {
    this.message("t", int16(typeOids.length), ...typeOids.map(int32));
  }

  error(error: PgError): void {
    this.message(
      "E",
      Buffer.from("S", "latin1"),
      cstring(error.severity),
      Buffer.from("V", "latin1"),
      cstring(error.severity),
      Buffer.from("C", "latin1"),
      cstring(error.code),
      Buffer.from("M", "latin1"),
      cstring(error.message),
      Buffer.from([0]),
    );
  }

  notice(message: string): void {
    this.message(
      "N",
      Buffer.from("S", "latin1"),
      cstring("NOTICE"),
      Buffer.from("C", "latin1"),
      cstring("00000"),
      Buffer.from("M", "latin1"),
      cstring(message),
      Buffer.from([0]),
    );
  }

  simple(type: "1" | "2" | "3" | "I" | "n" | "s"): void {
    this.message(type);
  }
}

function concatParts(parts: (Buffer | string | number)[]): Buffer {
  return Buffer.concat(
    parts.map((part) =>
      typeof part === "string" ? cstring(part) : typeof part === "number" ? int32(part) : part,
    ),
  );
}

/** A NUL-terminated UTF-8 string. */
export function cstring(text: string): Buffer {
  return Buffer.from(`${text}\0`, "utf8");
}

export function int32(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(4);
  buffer.writeInt32BE(value, 0);
  return buffer;
}

export function int16(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(2);
  buffer.writeInt16BE(value, 0);
  return buffer;
}

/** A frontend message: its type byte (undefined for startup-phase messages) and body. */
export interface FrontendMessage {
  readonly type: string | undefined;
  readonly body: Buffer;
}

/**
 * Splits the client's byte stream into messages. Before startup completes, messages have no
 * type byte. A length beyond `maxMessageBytes` is a protocol error (the connection closes).
 */
export class MessageReader {
  private buffer: Buffer = Buffer.alloc(0);
  /** True once the startup message was read: later messages carry a type byte. */
  typed = false;

  constructor(private readonly maxMessageBytes: number) {}

  feed(chunk: Buffer): FrontendMessage[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const messages: FrontendMessage[] = [];
    let offset = 0;
    for (;;) {
      const headerSize = this.typed ? 5 : 4;
      if (this.buffer.length - offset < headerSize) break;
      const length = this.buffer.readInt32BE(offset + headerSize - 4);
      if (length < 4) {
        throw new PgError(SQLSTATE.protocolViolation, "invalid message length", "FATAL");
      }
      if (length > this.maxMessageBytes) {
        throw new PgError(
          SQLSTATE.programLimitExceeded,
          `message of ${length} bytes is over the limit of ${this.maxMessageBytes}`,
          "FATAL",
        );
      }
      const end = offset + headerSize - 4 + length;
      if (this.buffer.length < end) break;
      const type = this.typed ? String.fromCharCode(this.buffer[offset] as number) : undefined;
      messages.push({ type, body: this.buffer.subarray(offset + headerSize, end) });
      offset = end;
      // The startup message switches the framing; later bytes are parsed with a type byte.
      if (!this.typed && type === undefined) break;
    }
    this.buffer = offset >= this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(offset);
    return messages;
  }

  /** Parses any bytes left after a framing change. */
  drain(): FrontendMessage[] {
    return this.buffer.length === 0 ? [] : this.feed(Buffer.alloc(0));
  }
}

/** Reads fields out of a message body. */
export class BodyReader {
  private offset = 0;
  constructor(private readonly body: Buffer) {}

  int32(): number {
    this.need(4);
    const value = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  int16(): number {
    this.need(2);
    const value = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  byte(): string {
    this.need(1);
    return String.fromCharCode(this.body[this.offset++] as number);
  }

  cstring(): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) throw new PgError(SQLSTATE.protocolViolation, "unterminated string in message");
    const text = this.body.toString("utf8", this.offset, end);
    this.offset = end + 1;
    return text;
  }

  bytes(length: number): Buffer {
    this.need(length);
    const out = this.body.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  rest(): Buffer {
    const out = this.body.subarray(this.offset);
    this.offset = this.body.length;
    return out;
  }

  private need(bytes: number): void {
    if (bytes < 0 || this.offset + bytes > this.body.length) {
      throw new PgError(SQLSTATE.protocolViolation, "message is shorter than its fields");
    }
  }
}
