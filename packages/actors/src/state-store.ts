import {
  jsonCodec,
  type Metrics,
  parseWith,
  type Store,
  StoreConflictError,
  type StoreOp,
  TroupeError,
} from "@troupe/core";
import type { ActorDirectory } from "./directory.js";
import type { Target } from "./envelope.js";

/** A state as loaded: the stored one (checked with the schema), or the type's initial state. */
export interface LoadedState {
  readonly state: unknown;
  /** Whether it came from the Store (false: the initial state, never written yet). */
  readonly stored: boolean;
  /**
   * Token fencing only: the version of the fence record this activation installed; pass it back
   * to `write`.
   */
  readonly fence?: number;
}

/**
 * Where actors' states live: `<prefix><type>/<key>` in the Store. Loads check the schema; every
 * write commits together with the directory's fence for the activation's epoch, so an activation
 * that lost its claim can never overwrite a newer owner's state.
 *
 * When the directory keeps its claims in another Store (`directory.fencing === "token"`, e.g.
 * claims on etcd and states on PostgreSQL), its guard ops cannot join a state commit. The epoch
 * then serves as a fencing token: on activation the state Store's fence record for the actor is
 * raised to the epoch (refused when it already holds a newer one), and every state write checks
 * that record's version, so a write from an older activation fails once a newer one has loaded.
 * This relies only on claim epochs growing per actor, which every Store's versions guarantee.
 */
export class StateStore {
  constructor(
    /** The Store the states live in. */
    readonly store: Store,
    private readonly directory: ActorDirectory,
    private readonly prefix: string,
    private readonly writes: ReturnType<Metrics["counter"]>,
    private readonly fencePrefix = "actors/fence/",
  ) {}

  private get tokenFencing(): boolean {
    return this.directory.fencing === "token";
  }

  /** The Store key of a target's state. */
  key(target: Target): string {
    return `${this.prefix}${target.id}`;
  }

  /** The stored state, decoded without checking (introspection), or undefined. */
  async read(target: Target): Promise<{ state: unknown } | undefined> {
    const entry = await this.store.get(this.key(target));
    return entry === undefined ? undefined : { state: jsonCodec.decode(entry.value) };
  }

  /**
   * Loads the state to activate with (after raising the fence to `epoch` under token fencing); a
   * state that fails the schema is INVALID_ARGUMENT.
   */
  async load(target: Target, epoch = 0): Promise<LoadedState> {
    const { definition, address } = target;
    const fence = this.tokenFencing && epoch > 0 ? await this.raiseFence(target, epoch) : undefined;
    const fenced = fence === undefined ? {} : { fence };
    const entry = await this.store.get(this.key(target));
    if (entry !== undefined) {
      const field = `${definition.name}/${address.key} stored state`;
      return {
        state: parseWith(definition.state, jsonCodec.decode(entry.value), field),
        stored: true,
        ...fenced,
      };
    }
    const initial = definition.initialState(target.keyValue);
    return {
      state: parseWith(definition.state, initial, `${definition.name} initialState`),
      stored: false,
      ...fenced,
    };
  }

  /** Raises the actor's fence record to `epoch`; resolves with the record's new version. */
  private async raiseFence(target: Target, epoch: number): Promise<number> {
    const key = `${this.fencePrefix}${target.id}`;
    for (;;) {
      const entry = await this.store.get(key);
      const held = entry === undefined ? 0 : Number(jsonCodec.decode(entry.value));
      if (held > epoch) throw this.lost(target, epoch);
      if (held === epoch && entry !== undefined) return entry.version;
      try {
        const { version } = await this.store.commit([
          {
            type: "set",
            key,
            value: jsonCodec.encode(epoch),
            expect: entry === undefined ? "absent" : entry.version,
          },
        ]);
        return version;
      } catch (error) {
        // Another activation raised it meanwhile: read again and compare epochs.
        if (!StoreConflictError.isInstance(error)) throw error;
      }
    }
  }

  private lost(target: Target, epoch: number, cause?: unknown): TroupeError {
    const { address } = target;
    return new TroupeError(
      "LEASE_LOST",
      `actor ${address.type}/${address.key}: another activation took over (epoch ${epoch} is no longer current); this write was rejected and the activation dropped`,
      { cause, details: { address, epoch } },
    );
  }

  /** The ops of one fenced state write: the fence guard, then the state. */
  writeOps(target: Target, epoch: number, bytes: Uint8Array, fence?: number): StoreOp[] {
    const guard: StoreOp[] = this.tokenFencing
      ? fence === undefined
        ? []
        : [{ type: "check", key: `${this.fencePrefix}${target.id}`, expect: fence }]
      : this.directory.fence(target.address, epoch);
    return [...guard, { type: "set", key: this.key(target), value: bytes }];
  }

  /**
   * One fenced state write (`fence`: what `load` returned, under token fencing). A failed fence
   * means another activation took over: LEASE_LOST.
   */
  async write(target: Target, epoch: number, bytes: Uint8Array, fence?: number): Promise<void> {
    try {
      await this.store.commit(this.writeOps(target, epoch, bytes, fence));
      this.writes.inc();
    } catch (error) {
      if (StoreConflictError.isInstance(error)) throw this.lost(target, epoch, error);
      throw error;
    }
  }
}
