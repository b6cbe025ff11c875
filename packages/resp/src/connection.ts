import type { Socket } from "node:net";
import { Closing, type Outcome, Several, unsubscribeAll } from "./command-dispatch.js";
import type { ConnectionState } from "./connection-state.js";
import { guardedDispatch } from "./guarded-dispatch.js";
import type { PubSubListener } from "./pubsub-hub.js";
import { isErrorReply, type Reply } from "./reply.js";
import { encodeReply, type RespVersion } from "./reply-writer.js";
import {
  createRespParser,
  RespBinaryArgument,
  type RespParserLimits,
  RespProtocolError,
} from "./resp-parser.js";
import type { RespServerContext } from "./server-context.js";

/** Limits of one connection. */
export interface ConnectionLimits extends RespParserLimits {
  /** Close a connection idle this long, in ms (0: never). Subscribers are exempt. */
  readonly idleTimeoutMs: number;
  /** Stop reading while this many replies are outstanding (pipelining back-pressure). */
  readonly maxPendingReplies: number;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/**
 * Serves one client socket: parses requests, runs them (in parallel across keys), and writes
 * the replies in request order, batching each read's replies into one write.
 */
export class RespConnection implements PubSubListener {
  readonly state: ConnectionState;
  private readonly parser;
  // Encoded replies in request order; undefined while a command runs.
  private slots: (string | undefined)[] = [];
  private head = 0;
  private out = "";
  private flushScheduled = false;
  private closing = false;
  private closed = false;

  constructor(
    private readonly context: RespServerContext,
    private readonly socket: Socket,
    private readonly limits: ConnectionLimits,
    id: number,
  ) {
    this.parser = createRespParser(limits);
    this.state = {
      id,
      authenticated: context.tokenDigest === undefined && context.access === undefined,
      protocol: 2,
      name: undefined,
      multi: undefined,
      multiFailed: false,
      channels: new Set(),
      patterns: new Set(),
      address: `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`,
      since: context.clock.now(),
      verifiedAt: 0,
    };
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.onClose());
    if (limits.idleTimeoutMs > 0) {
      socket.setTimeout(limits.idleTimeoutMs, () => {
        if (this.state.channels.size + this.state.patterns.size > 0) return;
        socket.destroy();
      });
    }
  }

  message(channel: string, message: string): void {
    this.push(["message", channel, message]);
  }

  patternMessage(pattern: string, channel: string, message: string): void {
    this.push(["pmessage", pattern, channel, message]);
  }

  /** Closes the socket (server shutdown). */
  close(): void {
    this.socket.destroy();
  }

  private push(items: Reply[]): void {
    if (this.closed) return;
    // Behind the replies still outstanding, so a message never overtakes the reply to the
    // SUBSCRIBE that asked for it.
    this.complete({ push: items }, this.state.protocol);
    this.scheduleFlush();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let requests: ReturnType<typeof this.parser.feed>;
    try {
      requests = this.parser.feed(chunk);
    } catch (error) {
      if (!(error instanceof RespProtocolError)) throw error;
      this.context.stats.protocolErrorsTotal++;
      // Replies already computed go first; then the error, then the connection closes.
      this.complete({ error: `ERR Protocol error: ${error.message}` }, this.state.protocol);
      this.closing = true;
      this.flush();
      this.socket.end();
      return;
    }
    for (const request of requests) {
      if (this.closing) break;
      this.context.stats.commandsTotal++;
      if (request instanceof RespBinaryArgument) {
        this.complete(
          {
            error: `ERR argument ${request.index} is not UTF-8 text: Troupe keeps keys and values as text`,
          },
          this.state.protocol,
        );
        continue;
      }
      let outcome: Outcome | Promise<Outcome>;
      try {
        outcome = guardedDispatch(this.context, this.state, this, request);
      } catch (error) {
        this.context.logger.error("resp: command failed", { error });
        outcome = { error: "ERR internal error" };
      }
      const version = this.state.protocol;
      if (isPromise(outcome)) {
        const index = this.slots.length;
        this.slots.push(undefined);
        outcome.then(
          (settled) => this.fill(index, settled, version),
          (error: unknown) => {
            this.context.logger.error("resp: command failed", { error });
            this.fill(index, { error: "ERR internal error" }, version);
          },
        );
      } else {
        this.complete(outcome, version);
      }
    }
    this.context.meter?.commands.inc(requests.length);
    if (this.pending() >= this.limits.maxPendingReplies) this.socket.pause();
    this.flush();
  }

  private pending(): number {
    return this.slots.length - this.head;
  }

  private encode(outcome: Outcome, version: RespVersion): string {
    if (outcome instanceof Several) {
      let text = "";
      for (const reply of outcome.replies) text += encodeReply(reply, version);
      return text;
    }
    if (outcome instanceof Closing) {
      this.closing = true;
      return encodeReply(outcome.reply, version);
    }
    if (isErrorReply(outcome)) {
      this.context.stats.errorsTotal++;
      this.context.meter?.errors.inc();
    }
    return encodeReply(outcome, version);
  }

  private complete(outcome: Outcome, version: RespVersion): void {
    const text = this.encode(outcome, version);
    if (this.pending() === 0) this.out += text;
    else this.slots.push(text);
  }

  private fill(index: number, outcome: Outcome, version: RespVersion): void {
    if (this.closed) return;
    this.slots[index] = this.encode(outcome, version);
    if (index !== this.head) return;
    while (this.head < this.slots.length) {
      const text = this.slots[this.head];
      if (text === undefined) break;
      this.out += text;
      this.head++;
    }
    if (this.head === this.slots.length) {
      this.slots = [];
      this.head = 0;
      if (this.socket.isPaused()) this.socket.resume();
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.out.length > 0 && !this.closed) {
      this.socket.write(this.out);
      this.out = "";
    }
    if (this.closing && this.pending() === 0 && !this.closed) this.socket.end();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.context.stats.connectionsOpen--;
    this.context.meter?.connections.set(this.context.stats.connectionsOpen);
    unsubscribeAll(this.context, this.state, this);
  }
}
