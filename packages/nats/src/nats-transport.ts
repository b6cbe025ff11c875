import {
  headers as createHeaders,
  errors,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import {
  closedError,
  invalidArgument,
  type Logger,
  noopLogger,
  type RequestHandler,
  type RequestOptions,
  type Transport,
  TroupeError,
  validateNodeId,
} from "@troupe/core";
import { z } from "zod";
import {
  connectionOptionsShape,
  createConnectionHolder,
  describe,
  parseOptions,
} from "./connection.js";
import { listenerQueueGroup, nodeSubject } from "./subjects.js";

/** The header carrying the requesting node's id. */
export const FROM_HEADER = "Troupe-From";
/** The header a listener sets on a non-success reply: `error` (body = JSON error) or `probe`; a reply without it is a success. */
export const STATUS_HEADER = "Troupe-Status";
/** The header marking a listen-time probe (see `listen`); probes never reach the handler. */
const PROBE_HEADER = "Troupe-Probe";
const EMPTY = new Uint8Array(0);
const MAX_TIMEOUT_MS = 2_147_483_647;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Options of {@link createNatsTransport}. Give exactly one of `servers` and `connection`. */
export interface NatsTransportOptions {
  /** NATS server URL(s) to connect to (`nats://127.0.0.1:4222`); the transport owns that connection and drains it on `close`. */
  readonly servers?: string | readonly string[];
  /** An open connection to use instead (for auth, TLS or sharing one socket with the PubSub); `close` leaves it open. */
  readonly connection?: NatsConnection;
  /** First tokens of every subject, to keep deployments or tests apart on one server. Default `"troupe"`. */
  readonly subjectPrefix?: string;
  /** Request timeout when `request` is given none, in ms. Default 5000. */
  readonly defaultTimeoutMs?: number;
  /** How long `listen` waits for an answer when checking that nobody else serves the node id, in ms. Default 1000. */
  readonly probeTimeoutMs?: number;
  /** How long stopping a listener (or `close`) waits for requests already being handled to answer, in ms; 0 = not at all. Default 2000. */
  readonly drainTimeoutMs?: number;
  /** The connection's name as the server shows it (monitoring); only with `servers`. */
  readonly connectionName?: string;
  /** Where handler failures and reply send failures are reported. Default: discarded. */
  readonly logger?: Logger;
}

const optionsSchema = z
  .object({
    ...connectionOptionsShape,
    defaultTimeoutMs: z
      .number({ error: "expected a number of ms" })
      .int({ error: "expected a whole number of ms" })
      .min(1, { error: "must be at least 1 ms" })
      .max(MAX_TIMEOUT_MS, { error: `must be at most ${MAX_TIMEOUT_MS} ms` })
      .default(5000),
    probeTimeoutMs: z
      .number({ error: "expected a number of ms" })
      .int({ error: "expected a whole number of ms" })
      .min(1, { error: "must be at least 1 ms" })
      .max(60_000, { error: "must be at most 60000 ms" })
      .default(1000),
    drainTimeoutMs: z
      .number({ error: "expected a number of ms" })
      .int({ error: "expected a whole number of ms" })
      .min(0, { error: "must be at least 0 ms" })
      .max(MAX_TIMEOUT_MS, { error: `must be at most ${MAX_TIMEOUT_MS} ms` })
      .default(2000),
  })
  .strict();

interface Listener {
  subscription: Subscription | undefined;
  readonly inFlight: Set<Promise<void>>;
  stopped: boolean;
}

/**
 * A {@link Transport} on NATS request/reply. Node `n` listens on the subject
 * `<subjectPrefix>.node.<n>` (see `nodeSubject`); a request is a NATS request to that subject
 * with the sender's id in the `Troupe-From` header, answered on the requester's inbox.
 *
 * - Nobody listening: NATS answers "no responders" at once, so `request` fails fast with
 *   `UNKNOWN_NODE` instead of waiting for the timeout.
 * - A handler that throws (or returns something other than bytes) answers with the
 *   `Troupe-Status: error` header and a JSON body; the requester raises `REMOTE_ERROR` with the
 *   handler's message (and its `code` in `details.remoteCode` when it threw a TroupeError).
 * - One listener per node id: `listen` rejects a second `listen` of the same id on this
 *   transport, and first probes the subject so that a node id already served elsewhere fails
 *   with `INVALID_ARGUMENT` instead of silently splitting traffic. Listeners still join a queue
 *   group, so in the race where two processes start serving one id at the same moment each
 *   request is handled by ONE of them, never twice.
 * - Delivery is at most once. The client reconnects on its own (forever, for an owned
 *   connection) and re-registers the listeners. While a node's connection is down, requests to
 *   it fail with `UNKNOWN_NODE`, and a reply its handler sends meanwhile is lost (that requester
 *   sees `TIMEOUT`). When the requester's own connection drops, its waiting requests, and
 *   requests made until it is back, fail at once with `UNAVAILABLE`; the handler may or may not
 *   have run.
 */
export function createNatsTransport(options: NatsTransportOptions): Transport {
  const parsed = parseOptions(optionsSchema, options, "createNatsTransport");
  const prefix = parsed.subjectPrefix;
  const logger = parsed.logger ?? noopLogger;
  const holder = createConnectionHolder(parsed);
  const queue = listenerQueueGroup(prefix);
  const listeners = new Map<string, Listener>();
  const pendingRequests = new Set<(error: TroupeError) => void>();
  let closing: Promise<void> | undefined;

  const ensureOpen = () => {
    if (closing) throw closedError("nats transport");
  };

  // Node subjects are computed on every request; a cluster has few node ids, so cache them
  // (bounded, in case ids are generated).
  const subjects = new Map<string, string>();
  const subjectOf = (nodeId: string) => {
    let subject = subjects.get(nodeId);
    if (subject === undefined) {
      if (subjects.size >= 10_000) subjects.clear();
      subject = nodeSubject(prefix, nodeId);
      subjects.set(nodeId, subject);
    }
    return subject;
  };

  // While the client is disconnected, whatever it writes is discarded when it reconnects, and
  // replies sent to it meanwhile are dropped by the server. So a request waiting for its reply
  // when the connection drops can only end in TIMEOUT, and one sent during the outage too: fail
  // both at once with UNAVAILABLE instead (the handler may or may not have run).
  let watched: NatsConnection | undefined;
  let disconnected = false;
  const watchConnection = (connection: NatsConnection) => {
    if (watched === connection) return;
    watched = connection;
    void (async () => {
      for await (const status of connection.status()) {
        if (closing) return;
        if (status.type === "disconnect") {
          disconnected = true;
          const lost = new TroupeError(
            "UNAVAILABLE",
            "the connection to NATS dropped while waiting for the reply; the request may or may not have been handled",
          );
          for (const rejectPending of [...pendingRequests]) rejectPending(lost);
        } else if (status.type === "reconnect") {
          disconnected = false;
        }
      }
    })().catch((error: unknown) => logger.warn("nats transport status watch ended", { error }));
  };

  const stopListener = async (nodeId: string, listener: Listener, connection: NatsConnection) => {
    if (listener.stopped) return;
    listener.stopped = true;
    if (listeners.get(nodeId) === listener) listeners.delete(nodeId);
    const subscription = listener.subscription;
    if (subscription && !connection.isClosed()) {
      subscription.unsubscribe();
      // Make sure the server has dropped the interest before we say "stopped", so a request
      // sent afterwards gets "no responders" and another process may take over the id.
      await connection.flush().catch(() => {});
    }
    // Let requests already being handled send their replies, but do not let a stuck handler
    // hold up shutdown forever: its requester times out on its own.
    if (listener.inFlight.size === 0 || parsed.drainTimeoutMs === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...listener.inFlight]),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn("nats transport: handlers still running after drainTimeoutMs", {
            nodeId,
            running: listener.inFlight.size,
          });
          resolve();
        }, parsed.drainTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
  };

  const serve = (msg: Msg, handler: RequestHandler, listener: Listener) => {
    if (msg.headers?.has(PROBE_HEADER)) {
      respond(msg, EMPTY, "probe");
      return;
    }
    // A plain publish to a node subject has nobody to answer to; drop it.
    if (!msg.reply) return;
    const from = msg.headers?.get(FROM_HEADER) ?? "";
    // Copy: the client hands out views of its read buffer.
    const request = msg.data.slice();
    const answer = (reply: unknown) => {
      if (reply instanceof Uint8Array) respond(msg, reply, "ok");
      else respondError(msg, `handler returned ${typeName(reply)} instead of a Uint8Array`);
    };
    const fail = (error: unknown) => {
      logger.warn("nats transport handler failed", { from, error });
      respondError(
        msg,
        describe(error),
        TroupeError.isInstance(error) ? String(error.code) : undefined,
      );
    };
    // Call the handler right away and answer a synchronous result at once: a promise chain per
    // request costs several microtasks on the hot path.
    let result: unknown;
    try {
      result = handler(request, from);
    } catch (error) {
      fail(error);
      return;
    }
    if (!(result instanceof Promise)) {
      answer(result);
      return;
    }
    const work = result.then(answer, fail).finally(() => listener.inFlight.delete(work));
    listener.inFlight.add(work);
  };

  const respond = (msg: Msg, data: Uint8Array, status: "ok" | "error" | "probe") => {
    try {
      if (status === "ok") {
        // A reply without the status header is a success; skipping it saves encoding headers.
        msg.respond(data);
      } else {
        const replyHeaders = createHeaders();
        replyHeaders.set(STATUS_HEADER, status);
        msg.respond(data, { headers: replyHeaders });
      }
    } catch (error) {
      if (status === "ok" && error instanceof errors.InvalidArgumentError) {
        // The reply is larger than the server's max_payload: tell the requester why.
        respondError(msg, `reply of ${data.byteLength} bytes is larger than the server accepts`);
        return;
      }
      logger.error("nats transport could not send a reply", { status, error });
    }
  };

  const respondError = (msg: Msg, message: string, code?: string) => {
    const body = textEncoder.encode(
      JSON.stringify(code === undefined ? { message } : { message, code }),
    );
    respond(msg, body, "error");
  };

  /** Fails with INVALID_ARGUMENT when some process already answers on `subject`. */
  const assertNotServedElsewhere = async (
    connection: NatsConnection,
    subject: string,
    nodeId: string,
  ) => {
    const probeHeaders = createHeaders();
    probeHeaders.set(PROBE_HEADER, "1");
    try {
      await connection.request(subject, EMPTY, {
        timeout: parsed.probeTimeoutMs,
        headers: probeHeaders,
      });
    } catch (error) {
      if (isNoResponders(error)) return;
      if (hasCause(error, errors.TimeoutError)) {
        // Someone holds the subject but does not answer (busy, or a dead client the server has
        // not noticed yet). Serving anyway is the lesser evil; the queue group keeps requests
        // from being handled twice.
        logger.warn("nats transport: listen probe got no answer; serving anyway", { nodeId });
        return;
      }
      throw mapConnectionError(error, closing !== undefined);
    }
    throw new TroupeError(
      "INVALID_ARGUMENT",
      `nodeId: ${JSON.stringify(nodeId)} is already listening on another connection (subject ${subject})`,
      { details: { field: "nodeId", nodeId, subject } },
    );
  };

  return {
    name: "nats",

    async listen(nodeId, handler) {
      ensureOpen();
      validateNodeId(nodeId);
      if (typeof handler !== "function") throw invalidArgument("handler", "expected a function");
      if (listeners.has(nodeId)) {
        throw new TroupeError(
          "INVALID_ARGUMENT",
          `nodeId: ${JSON.stringify(nodeId)} is already listening`,
          { details: { field: "nodeId", nodeId } },
        );
      }
      // Reserve the id before the first await so concurrent listens of one id cannot both pass.
      const listener: Listener = { subscription: undefined, inFlight: new Set(), stopped: false };
      listeners.set(nodeId, listener);
      const subject = nodeSubject(prefix, nodeId);
      let connection: NatsConnection;
      try {
        connection = await holder.get();
        watchConnection(connection);
        await assertNotServedElsewhere(connection, subject, nodeId);
        ensureOpen();
        listener.subscription = connection.subscribe(subject, {
          queue,
          callback: (error, msg) => {
            if (error) {
              logger.error("nats transport subscription failed", { nodeId, error });
              return;
            }
            if (!listener.stopped) serve(msg, handler, listener);
          },
        });
        // Resolve only once the server has registered the interest: from here on requests
        // reach this handler.
        await connection.flush();
        ensureOpen();
      } catch (error) {
        listener.stopped = true;
        listener.subscription?.unsubscribe();
        if (listeners.get(nodeId) === listener) listeners.delete(nodeId);
        throw TroupeError.isInstance(error)
          ? error
          : mapConnectionError(error, closing !== undefined);
      }
      let stopping: Promise<void> | undefined;
      return () => {
        stopping ??= stopListener(nodeId, listener, connection);
        return stopping;
      };
    },

    async request(from, nodeId, request, requestOptions: RequestOptions = {}) {
      ensureOpen();
      validateNodeId(from, "from");
      validateNodeId(nodeId);
      if (!(request instanceof Uint8Array)) {
        throw invalidArgument("request", `expected a Uint8Array, got ${typeName(request)}`);
      }
      const timeoutMs = requestOptions.timeoutMs ?? parsed.defaultTimeoutMs;
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
        throw invalidArgument(
          "timeoutMs",
          `expected a whole number of ms from 1 to ${MAX_TIMEOUT_MS}, got ${String(timeoutMs)}`,
        );
      }
      const signal = requestOptions.signal;
      signal?.throwIfAborted();
      const connection = holder.current() ?? (await holder.get());
      ensureOpen();
      watchConnection(connection);
      if (disconnected) {
        throw new TroupeError(
          "UNAVAILABLE",
          "not connected to NATS (the client is reconnecting); the request was not sent",
          { details: { nodeId } },
        );
      }
      // The signal may have fired while we were connecting.
      signal?.throwIfAborted();
      const maxPayload = connection.info?.max_payload;
      if (maxPayload !== undefined && request.byteLength > maxPayload) {
        throw invalidArgument(
          "request",
          `is ${request.byteLength} bytes; the NATS server accepts at most ${maxPayload} (max_payload)`,
          { size: request.byteLength, limit: maxPayload },
        );
      }
      const requestHeaders = createHeaders();
      requestHeaders.set(FROM_HEADER, from);
      const subject = subjectOf(nodeId);

      return await new Promise<Uint8Array>((resolve, reject) => {
        let settled = false;
        const settle = (outcome: () => void) => {
          if (settled) return;
          settled = true;
          pendingRequests.delete(onClose);
          signal?.removeEventListener("abort", onAbort);
          outcome();
        };
        const onClose = (error: TroupeError) => settle(() => reject(error));
        // The NATS client has no cancellation; an aborted request's late reply is ignored.
        const onAbort = () => settle(() => reject(signal?.reason));
        pendingRequests.add(onClose);
        signal?.addEventListener("abort", onAbort, { once: true });
        connection.request(subject, request, { timeout: timeoutMs, headers: requestHeaders }).then(
          (reply) => settle(() => settleReply(reply, nodeId, resolve, reject)),
          (error: unknown) =>
            settle(() => reject(mapRequestError(error, nodeId, timeoutMs, closing !== undefined))),
        );
      });
    },

    close() {
      closing ??= (async () => {
        const closed = closedError("nats transport");
        for (const rejectPending of [...pendingRequests]) rejectPending(closed);
        // Only look the connection up when there is something to stop: a transport that never
        // listened must not connect just to close.
        const connection =
          listeners.size > 0 ? await holder.get().catch(() => undefined) : undefined;
        if (connection) {
          await Promise.all(
            [...listeners].map(([nodeId, listener]) => stopListener(nodeId, listener, connection)),
          );
        }
        listeners.clear();
        await holder.release();
      })();
      return closing;
    },
  };
}

function settleReply(
  reply: Msg,
  nodeId: string,
  resolve: (value: Uint8Array) => void,
  reject: (error: unknown) => void,
) {
  if (reply.headers?.get(STATUS_HEADER) !== "error") {
    resolve(reply.data.slice());
    return;
  }
  let remoteMessage = "unknown error";
  let remoteCode: string | undefined;
  try {
    const body: unknown = JSON.parse(textDecoder.decode(reply.data));
    if (typeof body === "object" && body !== null) {
      const { message, code } = body as Record<string, unknown>;
      if (typeof message === "string") remoteMessage = message;
      if (typeof code === "string") remoteCode = code;
    }
  } catch {
    // A malformed error body still means the remote failed; keep the generic message.
  }
  reject(
    new TroupeError("REMOTE_ERROR", `node ${JSON.stringify(nodeId)} failed: ${remoteMessage}`, {
      details: {
        nodeId,
        remoteMessage,
        ...(remoteCode === undefined ? {} : { remoteCode }),
      },
    }),
  );
}

function mapRequestError(
  error: unknown,
  nodeId: string,
  timeoutMs: number,
  closing: boolean,
): TroupeError {
  if (TroupeError.isInstance(error)) return error;
  if (isNoResponders(error)) {
    return new TroupeError("UNKNOWN_NODE", `no node listens as ${JSON.stringify(nodeId)}`, {
      details: { nodeId },
    });
  }
  if (hasCause(error, errors.TimeoutError)) {
    return new TroupeError(
      "TIMEOUT",
      `request to node ${JSON.stringify(nodeId)} timed out after ${timeoutMs} ms`,
      { cause: error, details: { nodeId, timeoutMs } },
    );
  }
  if (hasCause(error, errors.InvalidArgumentError) && describe(error).includes("max_payload")) {
    return invalidArgument("request", "is larger than the NATS server's max_payload");
  }
  return mapConnectionError(error, closing);
}

/** CLOSED when we are closing, UNAVAILABLE for any other connection-level failure. */
export function mapConnectionError(error: unknown, closing: boolean): TroupeError {
  if (TroupeError.isInstance(error)) return error;
  if (closing) return new TroupeError("CLOSED", "nats transport is closed", { cause: error });
  return new TroupeError("UNAVAILABLE", `NATS connection failed: ${describe(error)}`, {
    cause: error,
  });
}

function isNoResponders(error: unknown): boolean {
  if (error instanceof errors.RequestError && error.isNoResponders()) return true;
  return hasCause(error, errors.NoRespondersError);
}

/** True when `error` or one of its causes is an instance of `type`. */
export function hasCause(error: unknown, type: abstract new (...args: never[]) => Error): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const next: unknown = current.cause;
    if (current instanceof type) return true;
    current = next;
  }
  return false;
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return "a Uint8Array";
  if (typeof value === "object") return value.constructor?.name ?? "an object";
  return typeof value;
}
