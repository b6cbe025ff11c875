import type { Clock, Metrics, Timer } from "@troupe/core";
import type { Activation } from "./activation.js";
import type { ActorAddress, Ownership } from "./directory.js";
import type { Target } from "./envelope.js";
import { ACTIVE, statusName } from "./lifecycle.js";

/** One activation in this node's memory, as {@link ActorSystem.listActivations} reports it. */
export interface ActivationInfo {
  /** The actor type. */
  readonly type: string;
  /** The address key (`""` for key-less actors, the decimal text for integer keys). */
  readonly key: string;
  /** The node holding it (this one). */
  readonly nodeId: string;
  /** When it was activated (ms since the epoch, on the system's Clock). */
  readonly since: number;
  /**
   * When it was last seen busy, to the precision of the idle sweep: calls only mark an
   * activation, and the sweep turns the mark into a time (now, for a mark not swept yet).
   */
  readonly lastCallAt: number;
  /** `"activating"`, `"active"` or `"deactivating"`. */
  readonly status: "activating" | "active" | "deactivating";
}

/** What the table needs besides the activations themselves. */
export interface ActivationTableOptions {
  readonly clock: Clock;
  readonly metrics: Metrics;
  /** How often idle activations are looked for. */
  readonly idleSweepMs: number;
  /** Makes a new activation (not booted yet) of `target`. */
  readonly create: (target: Target) => Activation;
}

/**
 * The activations in this node's memory, by `type/key`: created on demand, counted in the
 * metrics, and deactivated by a periodic sweep once idle for their type's `idleTimeoutMs`.
 */
export class ActivationTable {
  /** By target id; the router reads it directly on the hot path. */
  readonly byId = new Map<string, Activation>();
  /** No more idle sweeps (the system is closing). */
  private stopped = false;
  private sweepTimer: Timer | undefined = undefined;
  private readonly clock: Clock;
  private readonly idleSweepMs: number;
  private readonly create: (target: Target) => Activation;
  private readonly counters: {
    activations: ReturnType<Metrics["counter"]>;
    deactivations: ReturnType<Metrics["counter"]>;
    active: ReturnType<Metrics["gauge"]>;
  };

  constructor(options: ActivationTableOptions) {
    this.clock = options.clock;
    this.idleSweepMs = options.idleSweepMs;
    this.create = options.create;
    const { metrics } = options;
    this.counters = {
      activations: metrics.counter("actors_activations_total", { help: "Activations created" }),
      deactivations: metrics.counter("actors_deactivations_total", { help: "Activations ended" }),
      active: metrics.gauge("actors_active", { help: "Activations in memory" }),
    };
  }

  /** Creates, records and boots an activation; `ownership` skips the claim when locate made it. */
  spawn(target: Target, ownership: Ownership | undefined): Activation {
    const act = this.create(target);
    this.byId.set(target.id, act);
    void act.boot(ownership);
    return act;
  }

  /** The activation is ready to serve. */
  activated(activation: Activation): void {
    activation.counted = true;
    this.counters.activations.inc();
    this.counters.active.inc();
    this.armSweep();
  }

  /** The activation ended (deactivated, dropped, or failed to start). */
  removed(activation: Activation): void {
    if (this.byId.get(activation.target.id) === activation) this.byId.delete(activation.target.id);
    if (activation.counted) {
      activation.counted = false;
      this.counters.deactivations.inc();
      this.counters.active.dec();
    }
  }

  /** Whether the actor is active in this table. */
  isActive(address: ActorAddress): boolean {
    const act = this.byId.get(`${address.type}/${address.key}`);
    return act !== undefined && act.status === ACTIVE;
  }

  /** A snapshot of the activations, for introspection. */
  list(nodeId: string): ActivationInfo[] {
    const now = this.clock.now();
    return [...this.byId.values()].map((act) => ({
      type: act.target.address.type,
      key: act.target.address.key,
      nodeId,
      since: act.since,
      lastCallAt: act.touched ? now : act.lastActivity,
      status: statusName(act.status),
    }));
  }

  /** Stops the idle sweep (shutdown deactivates everything itself). */
  stopSweeping(): void {
    this.stopped = true;
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
  }

  private armSweep(): void {
    if (this.sweepTimer !== undefined || this.stopped) return;
    this.sweepTimer = this.clock.setTimer(this.idleSweepMs, () => {
      this.sweepTimer = undefined;
      this.sweep();
    });
  }

  /** Deactivates activations idle for their type's idleTimeoutMs. */
  private sweep(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    for (const act of this.byId.values()) {
      if (act.touched) {
        act.touched = false;
        act.lastActivity = now;
        continue;
      }
      if (
        act.status === ACTIVE &&
        act.isQuiet() &&
        now - act.lastActivity >= act.definition.idleTimeoutMs
      ) {
        void act.deactivate("idle");
      }
    }
    if (this.byId.size > 0) this.armSweep();
  }
}
