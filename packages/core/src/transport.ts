import { invalidArgument } from "./errors.js";

/**
 * Answers one request addressed to this node. A thrown error, or a reply that is not a
 * Uint8Array, reaches the caller as `REMOTE_ERROR`.
 */
export type RequestHandler = (
  request: Uint8Array,
  from: string,
) => Promise<Uint8Array> | Uint8Array;

/** What `request` takes. */
export interface RequestOptions {
  /** Give up after this many ms with code `TIMEOUT`. Default: the adapter's default (5 s). */
  readonly timeoutMs?: number;
  /** Abort the wait early: the request then rejects with the signal's reason, as `fetch` does. */
  readonly signal?: AbortSignal;
}

/**
 * Request/response between nodes addressed by node id (actors in cluster mode). A node serves
 * under its id with `listen`; any node reaches it with `request`. Failures are errors with a
 * clear code: `UNKNOWN_NODE` (nobody listens under that id), `TIMEOUT`, `REMOTE_ERROR` (the
 * handler threw; its message is carried over), `CLOSED`, and `UNAVAILABLE` (the adapter lost its
 * connection; as with `TIMEOUT`, the handler may or may not have run). Every adapter passes
 * `describeTransport` from `@troupe/testkit`.
 */
export interface Transport {
  /** The adapter's name (`"memory"`, `"nats"`, …). */
  readonly name: string;

  /**
   * Serves requests for `nodeId`; resolves once reachable. Returns a function that stops serving.
   * One transport serves a node id at most once: listening again on it throws INVALID_ARGUMENT.
   */
  listen(nodeId: string, handler: RequestHandler): Promise<() => Promise<void>>;

  /** Sends `request` to `nodeId` (as `from`) and resolves to its reply. */
  request(
    from: string,
    nodeId: string,
    request: Uint8Array,
    options?: RequestOptions,
  ): Promise<Uint8Array>;

  /** Stops serving every node and releases resources; later calls fail with code `CLOSED`. */
  close(): Promise<void>;
}

/** Validates a node id: non-empty, at most 128 characters, letters, digits and `._-`. */
export function validateNodeId(nodeId: unknown, field = "nodeId"): asserts nodeId is string {
  if (typeof nodeId !== "string" || !/^[A-Za-z0-9._-]{1,128}$/.test(nodeId)) {
    throw invalidArgument(
      field,
      `expected 1-128 letters, digits or . _ -, got ${JSON.stringify(nodeId)}`,
    );
  }
}
