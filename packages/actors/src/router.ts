import { type Clock, closedError, type Logger } from "@troupe/core";
import type { Activation } from "./activation.js";
import type { ActivationTable } from "./activation-table.js";
import type { CompiledAction } from "./define.js";
import type { ActorDirectory, Ownership } from "./directory.js";
import { type Deadlines, Envelope } from "./envelope.js";
import { errorMessage, MAX_REROUTES, outcomeUnknownError, unavailableError } from "./errors.js";
import { type CallPort, EMPTY_CHAIN, type RefBase } from "./refs.js";
import type { RemoteCaller } from "./remote-calls.js";
import { failoverDelayMs } from "./reroute-backoff.js";

/** What the router works with. */
export interface RouterOptions {
  readonly nodeId: string;
  readonly clock: Clock;
  readonly deadlines: Deadlines;
  readonly logger: Logger;
  readonly table: ActivationTable;
  readonly directory: ActorDirectory;
  /** Calls to actors owned by other nodes; undefined on a single node. */
  readonly remote: RemoteCaller | undefined;
  /** Random numbers in [0, 1) for the jitter of failover re-routes. */
  readonly random: () => number;
}

/**
 * Where a call goes: the activation in this node's memory (the hot path), a new local activation,
 * or — in a cluster — the node the directory names, following `moved` answers and failing over
 * when that node's lease lapses.
 */
export class Router implements CallPort {
  /** The system is closing: calls from outside are refused, calls from running turns still served. */
  closing = false;
  /** Past the drain: every call is refused. */
  stopped = false;
  private readonly activations: Map<string, Activation>;
  private readonly locating = new Map<string, Promise<Ownership>>();

  constructor(private readonly options: RouterOptions) {
    this.activations = options.table.byId;
  }

  /** A request/response call through a reference. */
  request(ref: RefBase, action: CompiledAction, args: readonly unknown[]): Promise<unknown> {
    if (this.closing && (ref.chain.length === 0 || this.stopped)) {
      return Promise.reject(closedError("actor system"));
    }
    // The slot holds the activation until it ends (status DEAD), and a living activation is the
    // one in the table: one that is still activating or deactivating queues the call itself.
    let act = ref.slot.current;
    if (act === undefined) {
      act = this.activations.get(ref.target.id);
      if (act === undefined) {
        return new Promise((resolve, reject) => {
          this.dispatch(new Envelope(ref.target, action, args, ref.chain, resolve, reject));
        });
      }
      ref.slot = act.slot;
    }
    return act.request(action, args, ref.chain);
  }

  /** A one-way send: failures are logged. */
  tell(ref: RefBase, action: CompiledAction, args: readonly unknown[]): void {
    if (this.closing && ref.chain.length === 0) throw closedError("actor system");
    const envelope = new Envelope(ref.target, action, args, EMPTY_CHAIN, undefined, (error) =>
      this.options.logger.warn("actor one-way send failed", {
        address: ref.target.address,
        action: action.name,
        error: errorMessage(error),
      }),
    );
    this.dispatch(envelope);
  }

  /** Routes an envelope: the local activation, a new local one, or the owning node. */
  dispatch(envelope: Envelope): void {
    const target = envelope.target;
    const act = this.activations.get(target.id);
    if (act !== undefined) {
      act.submit(envelope);
      return;
    }
    envelope.arm(this.options.deadlines, target.definition.callTimeoutMs);
    if (this.options.remote === undefined || envelope.fromRemote) {
      this.options.table.spawn(target, undefined).submit(envelope);
      return;
    }
    this.locate(envelope);
  }

  /** Routes an envelope again: its activation went away, or its node said the actor moved. */
  redispatch(envelope: Envelope): void {
    if (envelope.settled) return;
    if (this.closing && (this.stopped || envelope.chain.length === 0) && !envelope.fromRemote) {
      envelope.fail(closedError("actor system"));
      return;
    }
    if (++envelope.reroutes > MAX_REROUTES) {
      envelope.fail(unavailableError(envelope.target.address));
      return;
    }
    if (!envelope.fromRemote) {
      this.options.directory.forget(envelope.target.address);
      // A lookup still in flight started before this call learned the actor moved: it may name
      // the same node again, so the call (and later ones) look it up afresh.
      this.locating.delete(envelope.target.id);
    }
    this.dispatch(envelope);
  }

  /** Asks the directory who owns the actor (one lookup per actor at a time), then goes there. */
  private locate(envelope: Envelope): void {
    const target = envelope.target;
    let located = this.locating.get(target.id);
    if (located === undefined) {
      located = this.options.directory.locate(target.address);
      this.locating.set(target.id, located);
      const lookup = located;
      const forget = () => {
        if (this.locating.get(target.id) === lookup) this.locating.delete(target.id);
      };
      located.then(forget, forget);
    }
    located.then(
      (ownership) => {
        if (envelope.settled) return;
        if (ownership.nodeId === this.options.nodeId) {
          const act =
            this.activations.get(target.id) ??
            this.options.table.spawn(target, ownership.epoch > 0 ? ownership : undefined);
          act.submit(envelope);
        } else this.forward(ownership.nodeId, envelope);
      },
      (error: unknown) => envelope.fail(error),
    );
  }

  /**
   * Sends the call to the owning node. A `moved` answer routes it again at once (the call never
   * ran there); a node whose lease lapsed first leaves the outcome unknown: idempotent and
   * read-only actions are routed again after a jittered backoff, others fail OUTCOME_UNKNOWN.
   */
  private forward(nodeId: string, envelope: Envelope): void {
    const remote = this.options.remote;
    if (remote === undefined) return;
    void remote.send(nodeId, envelope).then((next) => {
      if (next === "moved") this.redispatch(envelope);
      else if (next === "lapsed") this.failOver(nodeId, envelope);
    });
  }

  private failOver(nodeId: string, envelope: Envelope): void {
    if (envelope.settled) return;
    const { address } = envelope.target;
    if (!envelope.action.idempotent) {
      envelope.fail(outcomeUnknownError(address, envelope.action.name, nodeId));
      return;
    }
    this.options.logger.info("actor call failed over: its node's lease lapsed", {
      address,
      action: envelope.action.name,
      node: nodeId,
    });
    const delay = failoverDelayMs(envelope.failovers++, this.options.random);
    this.options.clock.setTimer(delay, () => this.redispatch(envelope));
  }
}
