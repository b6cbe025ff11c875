import {
  parseSeqText,
  type Streams,
  streamTrimmed,
  validateNamespace,
  validateStreamKey,
} from "@troupe/actor-streams";
import {
  fromUtf8,
  invalidArgument,
  jsonCodec,
  type Logger,
  parseWith,
  TroupeError,
  utf8,
} from "@troupe/core";
import { Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";

/** Options of {@link createStreamsRoutes}. */
export interface StreamsRoutesOptions {
  /** The runtime's streams; undefined until the runtime has started. */
  readonly streams: () => Streams | undefined;
  readonly logger: Logger;
  /** How often an idle SSE connection gets a comment line, in ms. Default 15,000. */
  readonly heartbeatMs?: number;
  /** Largest publish body, in bytes (the event itself is bounded by the streams' `maxEventBytes`). Default 262,144. */
  readonly maxBodyBytes?: number;
}

const STATUS: Readonly<Record<string, ContentfulStatusCode>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  STREAM_TRIMMED: 410,
  EVENT_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  CLOSED: 503,
  UNAVAILABLE: 503,
};

const publishSchema = z.strictObject(
  { data: z.unknown().refine((value) => value !== undefined, "required") },
  { error: 'expected a JSON object like {"data": …}' },
);

function json(status: ContentfulStatusCode, value: unknown): Response {
  return new Response(fromUtf8(jsonCodec.encode(value)), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** Text held for a slow SSE client before its subscription waits for it (backpressure). */
const MAX_SSE_BUFFER = 65_536;

/** One SSE event in the wire format: `event:`, one `data:` line per line of `data`, `id:`. */
function sseEvent(id: string | undefined, data: string, event = "message"): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}`);
  return `event: ${event}\n${lines.join("\n")}\n${id === undefined ? "" : `id: ${id}\n`}\n`;
}

/**
 * Writes to an SSE response coalesced: while one write is in flight, what comes meanwhile
 * gathers and goes in the next write, so a busy stream passes one chunk per write (not per
 * event) through the response stream and the socket. `write` resolves at once unless more than
 * MAX_SSE_BUFFER waits (a slow client), then once it was written.
 */
function coalescingWriter(sse: SSEStreamingApi) {
  let buffered = "";
  let flushing: Promise<void> | undefined;
  const flush = async () => {
    while (buffered !== "") {
      const text = buffered;
      buffered = "";
      await sse.write(text);
    }
    flushing = undefined;
  };
  return {
    write(text: string): Promise<void> {
      buffered += text;
      flushing ??= flush();
      return buffered.length > MAX_SSE_BUFFER ? flushing : Promise.resolve();
    },
    /** Resolves once everything written so far went out. */
    async drain(): Promise<void> {
      await flushing;
    },
  };
}

/**
 * Streams over HTTP, mounted by the runtime at `/actors/streams`:
 * `GET /:namespace/:key` is a Server-Sent Events feed (event id = sequence number; resume with
 * `Last-Event-ID: <last seen>` or `?from=<first wanted>`; without either, only new events; a
 * comment line every `heartbeatMs`), and `POST /:namespace/:key` with `{"data": …}` publishes.
 */
export function createStreamsRoutes(options: StreamsRoutesOptions): Hono {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const maxBodyBytes = options.maxBodyBytes ?? 262_144;
  const app = new Hono();
  const running = (): Streams => {
    const streams = options.streams();
    if (streams === undefined) {
      throw new TroupeError("UNAVAILABLE", "streams start with the runtime (runtime.start())");
    }
    return streams;
  };

  app.get("/:namespace/:key", async (context) => {
    const streams = running();
    const namespace = validateNamespace(context.req.param("namespace"));
    const key = validateStreamKey(context.req.param("key"));
    const lastEventId = context.req.header("last-event-id");
    const from = context.req.query("from");
    let after: number | undefined;
    // A browser's reconnect carries Last-Event-ID; it wins over the `from` of the original URL.
    if (lastEventId !== undefined && lastEventId !== "") {
      after = parseSeqText(lastEventId, "Last-Event-ID");
    } else if (from !== undefined) {
      after = Math.max(0, parseSeqText(from, "from") - 1);
    }
    if (after !== undefined) {
      // Answer 410 before the feed starts when retention already removed what was asked for.
      const head = await streams.head(namespace, key);
      if (head > after) {
        const first = await streams.firstRetained(namespace, key);
        if (first === undefined || first > after + 1) {
          throw streamTrimmed(namespace, key, after, first);
        }
      }
    }
    context.header("cache-control", "no-store");
    context.header("x-accel-buffering", "no");
    return streamSSE(context, async (sse) => {
      await sse.write(": connected\n\n");
      const out = coalescingWriter(sse);
      const handle = await streams.subscribe(
        namespace,
        key,
        (event) => out.write(sseEvent(String(event.seq), fromUtf8(jsonCodec.encode(event)))),
        { consumer: "sse", ...(after === undefined ? {} : { after }) },
      );
      sse.onAbort(() => handle.unsubscribe());
      let ended = false;
      const done = handle.ended.then((error) => {
        ended = true;
        return error;
      });
      while (!ended && !sse.aborted) {
        await Promise.race([sse.sleep(heartbeatMs), done]);
        if (!ended && !sse.aborted) await out.write(": heartbeat\n\n");
      }
      const error = await done;
      if (error !== undefined && !sse.aborted) {
        const code = TroupeError.isInstance(error) ? error.code : "INTERNAL";
        await out.write(
          sseEvent(undefined, JSON.stringify({ code, message: error.message }), "error"),
        );
      }
      await out.drain();
      await handle.unsubscribe();
    });
  });

  app.post("/:namespace/:key", async (context) => {
    const streams = running();
    const namespace = validateNamespace(context.req.param("namespace"));
    const key = validateStreamKey(context.req.param("key"));
    const length = Number(context.req.header("content-length") ?? "0");
    if (length > maxBodyBytes) {
      throw new TroupeError("PAYLOAD_TOO_LARGE", `body: over the limit of ${maxBodyBytes} bytes`);
    }
    const text = await context.req.text();
    if (Buffer.byteLength(text) > maxBodyBytes) {
      throw new TroupeError("PAYLOAD_TOO_LARGE", `body: over the limit of ${maxBodyBytes} bytes`);
    }
    let body: unknown;
    try {
      body = jsonCodec.decode(utf8(text));
    } catch {
      throw invalidArgument("body", "is not valid JSON");
    }
    const { data } = parseWith(publishSchema, body, "", {
      unknownKey: "unknown field",
      wholeValueField: "body",
    });
    const event = await streams.publish(namespace, key, data);
    return json(201, { namespace, key, seq: event.seq, at: event.at });
  });

  app.all("*", (context) => {
    throw new TroupeError(
      "NOT_FOUND",
      `no streams route ${context.req.method} ${context.req.path}: use GET or POST …/streams/:namespace/:key`,
    );
  });

  app.onError((error, context) => {
    const status = (TroupeError.isInstance(error) ? STATUS[error.code] : undefined) ?? 500;
    const code = TroupeError.isInstance(error) ? error.code : "INTERNAL";
    if (status === 500)
      options.logger.warn("streams route failed", { path: context.req.path, error });
    return json(status, {
      status,
      error: { code, message: error instanceof Error ? error.message : String(error) },
    });
  });
  return app;
}
