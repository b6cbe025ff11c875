import { closedError, TroupeError } from "../errors.js";
import {
  type RequestHandler,
  type RequestOptions,
  type Transport,
  validateNodeId,
} from "../transport.js";

/** Options of {@link createMemoryTransport}. */
export interface MemoryTransportOptions {
  /** The default request timeout in ms. Default 5000. */
  readonly defaultTimeoutMs?: number;
}

/**
 * A {@link Transport} within one process: for tests and for running several nodes in one
 * process. Create one and give it to every node; requests copy their bytes, as a network would.
 */
export function createMemoryTransport(options: MemoryTransportOptions = {}): Transport {
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 5000;
  const listeners = new Map<string, RequestHandler>();
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw closedError("memory transport");
  };

  return {
    name: "memory",
    async listen(nodeId, handler) {
      ensureOpen();
      validateNodeId(nodeId);
      if (listeners.has(nodeId)) {
        throw new TroupeError(
          "INVALID_ARGUMENT",
          `nodeId: ${JSON.stringify(nodeId)} is already listening`,
          {
            details: { field: "nodeId", nodeId },
          },
        );
      }
      listeners.set(nodeId, handler);
      return async () => {
        if (listeners.get(nodeId) === handler) listeners.delete(nodeId);
      };
    },
    async request(from, nodeId, request, requestOptions: RequestOptions = {}) {
      ensureOpen();
      validateNodeId(from, "from");
      validateNodeId(nodeId);
      const handler = listeners.get(nodeId);
      if (!handler) {
        throw new TroupeError("UNKNOWN_NODE", `no node listens as ${JSON.stringify(nodeId)}`, {
          details: { nodeId },
        });
      }
      const timeoutMs = requestOptions.timeoutMs ?? defaultTimeoutMs;
      const copy = request.slice();
      return await new Promise<Uint8Array>((resolve, reject) => {
        const signal = requestOptions.signal;
        const finish = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        };
        const onAbort = () => {
          finish();
          reject(signal?.reason);
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new TroupeError(
              "TIMEOUT",
              `request to node ${JSON.stringify(nodeId)} timed out after ${timeoutMs} ms`,
              {
                details: { nodeId, timeoutMs },
              },
            ),
          );
        }, timeoutMs);
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        Promise.resolve()
          .then(() => handler(copy, from))
          .then(
            (reply: unknown) => {
              finish();
              if (reply instanceof Uint8Array) return resolve(reply.slice());
              reject(
                new TroupeError(
                  "REMOTE_ERROR",
                  `node ${JSON.stringify(nodeId)} replied with ${typeof reply}, not a Uint8Array`,
                  {
                    details: { nodeId },
                  },
                ),
              );
            },
            (error: unknown) => {
              finish();
              reject(
                new TroupeError(
                  "REMOTE_ERROR",
                  `node ${JSON.stringify(nodeId)} failed: ${error instanceof Error ? error.message : String(error)}`,
                  {
                    cause: error,
                    details: { nodeId },
                  },
                ),
              );
            },
          );
      });
    },
    async close() {
      closed = true;
      listeners.clear();
    },
  };
}
