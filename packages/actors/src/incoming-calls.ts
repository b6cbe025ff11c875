import { type Clock, type Logger, parseWith } from "@troupe/core";
import type { CompiledAction } from "./define.js";
import { type RemoteCall, type RemoteReply, remoteCallSchema } from "./directory.js";
import { Envelope, type Target } from "./envelope.js";
import { errorMessage, errorReply, unknownAction } from "./errors.js";
import type { ActorTypes } from "./registry.js";
import type { Router } from "./router.js";

/**
 * Runs calls that arrived from other nodes: validates them, routes them to a local activation
 * (claiming the actor when needed), and turns the outcome into a reply — `moved` when another
 * live node holds the actor, or when this node is closing and the call comes from outside.
 */
export class IncomingCalls {
  constructor(
    private readonly types: ActorTypes,
    private readonly router: Router,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  handle(call: RemoteCall): Promise<RemoteReply> {
    let target: Target;
    let action: CompiledAction;
    let args: readonly unknown[];
    try {
      const checked = parseWith(remoteCallSchema, call, "call");
      // A closing node still serves calls from inside running turns (they carry a chain).
      if (this.router.closing && checked.chain.length === 0) {
        return Promise.resolve({ kind: "moved" });
      }
      const compiled = this.types.named(checked.address.type, "call.address.type");
      target = this.types.targetOfAddressKey(compiled, checked.address.key);
      const found = compiled.actions.get(checked.action);
      // Reminder handlers (`@reminder:…`) are callable here: a firing may be routed to the owner.
      if (found === undefined) throw unknownAction(compiled, checked.action);
      action = found;
      args = this.types.checkArgs(compiled, action, checked.args);
    } catch (error) {
      return Promise.resolve(errorReply(error));
    }
    return new Promise<RemoteReply>((resolve) => {
      const envelope = new Envelope(
        target,
        action,
        args,
        call.chain,
        call.oneWay ? undefined : (value) => resolve({ kind: "ok", value }),
        call.oneWay
          ? (error) => {
              this.logger.warn("actor one-way call failed", {
                address: target.address,
                action: action.name,
                error: errorMessage(error),
              });
            }
          : (error) => resolve(errorReply(error)),
      );
      envelope.fromRemote = true;
      envelope.deadline = this.clock.now() + call.timeoutMs;
      this.router.dispatch(envelope);
      if (call.oneWay) resolve({ kind: "ok", value: undefined });
    });
  }
}
