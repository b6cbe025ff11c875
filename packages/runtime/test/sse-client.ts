import { createParser, type EventSourceMessage } from "eventsource-parser";

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
