import { type Clock, TroupeError } from "@troupe/core";
import type { ActorDirectory, ActorRemoting, RemoteCall, RemoteReply } from "./directory.js";
import type { Envelope } from "./envelope.js";

/**
 * How a remote attempt ended: the call is answered (`settled`), the node said the actor is not
 * there (`moved`: safe to route again), or the node's lease lapsed before it answered (`lapsed`:
 * the call may or may not have run there).
 */
export type RemoteOutcome = "settled" | "moved" | "lapsed";

const LAPSED = Symbol("lapsed");

/**
 * Calls to actors on other nodes: one attempt per `send`; its reply settles the caller's call.
 * While it waits, the directory watches the target node's lease, so an attempt to a node that
 * died ends within about `leaseMs + maxClockSkewMs` instead of the call's whole timeout.
 */
export class RemoteCaller {
  constructor(
    private readonly remoting: ActorRemoting,
    private readonly directory: ActorDirectory,
    private readonly clock: Clock,
  ) {}

  /** Sends the envelope's call to `nodeId`; settles it unless the node moved or lapsed. */
  async send(nodeId: string, envelope: Envelope): Promise<RemoteOutcome> {
    const call: RemoteCall = {
      address: envelope.target.address,
      action: envelope.action.name,
      args: envelope.args,
      oneWay: envelope.resolve === undefined,
      chain: envelope.chain,
      timeoutMs: Math.max(1, envelope.deadline - this.clock.now()),
    };
    let reply: RemoteReply | typeof LAPSED;
    try {
      reply = await this.attempt(nodeId, call);
    } catch (error) {
      envelope.fail(error);
      return "settled";
    }
    if (reply === LAPSED) return "lapsed";
    if (reply.kind === "moved") return "moved";
    if (reply.kind === "ok") {
      envelope.value = reply.value;
      envelope.ok();
    } else {
      envelope.fail(
        new TroupeError(reply.error.code ?? "REMOTE_ERROR", reply.error.message, {
          details: { node: nodeId, remoteName: reply.error.name, address: call.address },
        }),
      );
    }
    return "settled";
  }

  /** The node's reply, or LAPSED when its lease lapsed first. */
  private attempt(nodeId: string, call: RemoteCall): Promise<RemoteReply | typeof LAPSED> {
    const sent = this.remoting.send(nodeId, call);
    const directory = this.directory;
    if (directory.watchNode === undefined) return sent;
    return new Promise((resolve, reject) => {
      const stop = directory.watchNode?.(nodeId, () => resolve(LAPSED));
      sent.then(
        (reply) => {
          stop?.();
          resolve(reply);
        },
        (error: unknown) => {
          stop?.();
          reject(error);
        },
      );
    });
  }
}
