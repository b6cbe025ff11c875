import { type Clock, TroupeError } from "@troupe/core";
import type { ActorRemoting, RemoteCall, RemoteReply } from "./directory.js";
import type { Envelope } from "./envelope.js";

/** How a remote attempt ended: the call is answered, or the node said the actor is not there. */
export type RemoteOutcome = "settled" | "moved";

/** Calls to actors on other nodes: one attempt per `send`, its reply settles the caller's call. */
export class RemoteCaller {
  constructor(
    private readonly remoting: ActorRemoting,
    private readonly clock: Clock,
  ) {}

  /** Sends the envelope's call to `nodeId`; settles it unless the node answers `moved`. */
  async send(nodeId: string, envelope: Envelope): Promise<RemoteOutcome> {
    const call: RemoteCall = {
      address: envelope.target.address,
      action: envelope.action.name,
      args: envelope.args,
      oneWay: envelope.resolve === undefined,
      chain: envelope.chain,
      timeoutMs: Math.max(1, envelope.deadline - this.clock.now()),
    };
    let reply: RemoteReply;
    try {
      reply = await this.remoting.send(nodeId, call);
    } catch (error) {
      envelope.fail(error);
      return "settled";
    }
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
}
