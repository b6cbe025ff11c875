import {
  createJsonCodec,
  type Logger,
  noopLogger,
  type Transport,
  TroupeError,
  validateNodeId,
} from "@troupe/core";
import { z } from "zod";
import {
  type ActorRemoting,
  type RemoteCall,
  type RemoteReply,
  remoteCallSchema,
} from "../directory.js";
import { errorReply } from "../errors.js";
import { parseClusterOptions } from "./membership.js";

/** Turns anything thrown into the error part of a {@link RemoteReply}. */
export { errorReply };

/** Options of {@link createTransportRemoting}. */
export interface TransportRemotingOptions {
  /** The Transport shared with the other nodes (memory in one process, NATS across processes). */
  readonly transport: Transport;
  /** This node's id: the address it listens on and sends from. */
  readonly nodeId: string;
  /**
   * Transport timeout for a call whose own `timeoutMs` is not positive, in ms. Default 10,000.
   * Calls carry their remaining time; the request waits that long plus `marginMs`.
   */
  readonly timeoutMs?: number;
  /** Extra wait beyond a call's own time left, so the callee's timeout error arrives first. Default 250. */
  readonly marginMs?: number;
  /** Where warnings (malformed messages) go. Default: discarded. */
  readonly logger?: Logger;
}

const replySchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("ok"), value: z.unknown().optional() }),
  z.object({
    kind: z.literal("error"),
    error: z.object({ name: z.string(), message: z.string(), code: z.string().optional() }),
  }),
  z.object({ kind: z.literal("moved") }),
]);

// Wire codecs: JSON (with bigint, Date and bytes), validated on decode so a malformed message is
// an error naming the field, never a crash.
const callCodec = createJsonCodec(remoteCallSchema);
const replyCodec = createJsonCodec(replySchema);
const anyCodec = createJsonCodec();
const MAX_TIMEOUT_MS = 2_147_483_647;

/** Encodes a call for the wire. */
export function encodeRemoteCall(call: RemoteCall): Uint8Array {
  // JSON has no Infinity: a call without a time limit travels with the largest timer delay.
  if (!Number.isFinite(call.timeoutMs))
    return anyCodec.encode({ ...call, timeoutMs: MAX_TIMEOUT_MS });
  return anyCodec.encode(call);
}

/** Decodes and validates a call; throws TroupeError `INVALID_ARGUMENT` naming the bad field. */
export function decodeRemoteCall(bytes: Uint8Array): RemoteCall {
  return callCodec.decode(bytes) as RemoteCall;
}

/** Encodes a reply for the wire. */
export function encodeRemoteReply(reply: RemoteReply): Uint8Array {
  return anyCodec.encode(reply);
}

/** Decodes and validates a reply; throws TroupeError `INVALID_ARGUMENT` naming the bad field. */
export function decodeRemoteReply(bytes: Uint8Array): RemoteReply {
  return replyCodec.decode(bytes) as RemoteReply;
}

const optionsSchema = z.object({
  nodeId: z.string(),
  timeoutMs: z.number().int().positive().optional(),
  marginMs: z.number().int().nonnegative().optional(),
  transport: z.custom<Transport>(
    (value) =>
      typeof value === "object" &&
      value !== null &&
      typeof (value as Transport).request === "function" &&
      typeof (value as Transport).listen === "function",
    "expected a Transport",
  ),
});

/**
 * {@link ActorRemoting} over a Troupe {@link Transport}: calls and replies travel as JSON. An
 * incoming message that is not a valid call gets an `error` reply with code `INVALID_ARGUMENT`;
 * a handler that throws gets an `error` reply carrying its name, message and code. A target
 * nobody serves (`UNKNOWN_NODE`: the call was never delivered) answers `moved`, so the system
 * forgets the owner and locates the actor again; other transport failures (`TIMEOUT`,
 * `UNAVAILABLE`, where the call may or may not have run) reject `send`.
 */
export function createTransportRemoting(options: TransportRemotingOptions): ActorRemoting {
  parseClusterOptions("createTransportRemoting", optionsSchema, options);
  validateNodeId(options.nodeId, "createTransportRemoting.options.nodeId");
  const { transport, nodeId } = options;
  const defaultTimeoutMs = options.timeoutMs ?? 10_000;
  const marginMs = options.marginMs ?? 250;
  const logger = (options.logger ?? noopLogger).child({ nodeId });
  let stop: (() => Promise<void>) | undefined;
  let listening = false;
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new TroupeError("CLOSED", `the remoting of node ${nodeId} is closed`);
  };

  return {
    async send(target, call) {
      ensureOpen();
      // Whole ms within what timers (and the NATS client) accept.
      const timeoutMs =
        call.timeoutMs > 0
          ? Math.min(MAX_TIMEOUT_MS, Math.ceil(call.timeoutMs) + marginMs)
          : defaultTimeoutMs;
      let bytes: Uint8Array;
      try {
        bytes = await transport.request(nodeId, target, encodeRemoteCall(call), { timeoutMs });
      } catch (error) {
        // Nobody serves that node (it left, or died and the transport noticed): the call was
        // never delivered, so the caller may safely locate the actor again.
        if (TroupeError.isInstance(error, "UNKNOWN_NODE")) return { kind: "moved" };
        throw error;
      }
      try {
        return decodeRemoteReply(bytes);
      } catch (error) {
        throw new TroupeError(
          "REMOTE_ERROR",
          `node ${JSON.stringify(target)} sent a malformed reply: ${(error as Error).message}`,
          { cause: error, details: { nodeId: target } },
        );
      }
    },
    async listen(handler) {
      ensureOpen();
      if (listening) {
        throw new TroupeError("INVALID_ARGUMENT", `node ${nodeId} already listens for calls`, {
          details: { field: "listen", nodeId },
        });
      }
      listening = true;
      const stopListening = await transport.listen(nodeId, async (bytes, from) => {
        let call: RemoteCall;
        try {
          call = decodeRemoteCall(bytes);
        } catch (error) {
          logger.warn("cluster: rejected a malformed call", { from, error });
          return encodeRemoteReply(errorReply(error));
        }
        let reply: RemoteReply;
        try {
          reply = await handler(call);
        } catch (error) {
          reply = errorReply(error);
        }
        try {
          return encodeRemoteReply(reply);
        } catch (error) {
          // A result JSON cannot carry (a function, a cycle) fails this call, not the node.
          return encodeRemoteReply(
            errorReply(
              new TroupeError(
                "INVALID_ARGUMENT",
                `the result of ${call.address.type}.${call.action} cannot be sent between nodes: ${(error as Error).message}`,
                { cause: error },
              ),
            ),
          );
        }
      });
      // close() may have run while the listener was being registered.
      if (closed) await stopListening();
      else stop = stopListening;
    },
    async close() {
      if (closed) return;
      closed = true;
      const stopping = stop;
      stop = undefined;
      await stopping?.();
    },
  };
}
