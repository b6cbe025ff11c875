/** One dispatched event. */
export interface EventSourceMessage {
  readonly id: string | undefined;
  readonly event: string | undefined;
  readonly data: string;
}

/**
 * The event-stream format's parsing rules (WHATWG HTML, "Server-sent events"): lines end in
 * CRLF, LF or CR; a blank line dispatches; `:` starts a comment; `field: value` with one optional
 * space. Written here because eventsource-parser's published `source` condition points the
 * workspace's `--conditions=source` loaders at TypeScript files its package cannot load.
 */
function createParser(callbacks: {
  onEvent: (event: EventSourceMessage) => void;
  onComment: (comment: string) => void;
}) {
  let buffer = "";
  let id: string | undefined;
  let event: string | undefined;
  let data: string[] = [];
  const line = (text: string) => {
    if (text === "") {
      if (data.length > 0) callbacks.onEvent({ id, event, data: data.join("\n") });
      event = undefined;
      data = [];
      return;
    }
    if (text.startsWith(":")) return callbacks.onComment(text.slice(1));
    const colon = text.indexOf(":");
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
    else if (field === "id" && !value.includes("\u0000")) id = value;
  };
  return {
    feed(chunk: string) {
      buffer += chunk;
      for (;;) {
        const end = buffer.search(/\r\n|\r|\n/);
        // A lone CR at the end may be the first half of a CRLF: wait for more.
        if (end === -1 || (buffer[end] === "\r" && end === buffer.length - 1)) return;
        const width = buffer.startsWith("\r\n", end) ? 2 : 1;
        line(buffer.slice(0, end));
        buffer = buffer.slice(end + width);
      }
    },
  };
}

/** A Server-Sent Events client on fetch: what arrived so far, and a way to hang up. */
export interface SseClient {
  readonly status: number;
  readonly headers: Headers;
  /** Events received, in order. */
  readonly events: EventSourceMessage[];
  /** Comment lines received (`connected`, `heartbeat`). */
  readonly comments: string[];
  /** Called for each event as it is parsed (for latency measurements). */
  onEvent?: (event: EventSourceMessage) => void;
  /** Hangs up (the server sees the connection close). */
  close(): void;
  /** Settles when the server ended the feed or `close` was called. */
  readonly done: Promise<void>;
}

/** Opens `url` as an event stream; resolves once the response headers arrived. */
export async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseClient> {
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: abort.signal,
  });
  const client: SseClient = {
    status: response.status,
    headers: response.headers,
    events: [],
    comments: [],
    close: () => abort.abort(),
    done: Promise.resolve(),
  };
  const parser = createParser({
    onEvent: (event) => {
      client.events.push(event);
      client.onEvent?.(event);
    },
    onComment: (comment) => client.comments.push(comment.trim()),
  });
  const body = response.body;
  if (body === null || !response.ok) return client;
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  (client as { done: Promise<void> }).done = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        parser.feed(value);
      }
    } catch {
      // Aborted by `close`.
    }
  })();
  return client;
}
