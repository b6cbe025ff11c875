import {
  jsonCodec,
  type Metrics,
  parseWith,
  type Store,
  StoreConflictError,
  TroupeError,
} from "@troupe/core";
import type { ActorDirectory } from "./directory.js";
import type { Target } from "./envelope.js";

/** A state as loaded: the stored one (checked with the schema), or the type's initial state. */
export interface LoadedState {
  readonly state: unknown;
  /** Whether it came from the Store (false: the initial state, never written yet). */
  readonly stored: boolean;
}

/**
 * Where actors' states live: `<prefix><type>/<key>` in the Store. Loads check the schema; every
 * write commits together with the directory's fence for the activation's epoch, so an activation
 * that lost its claim can never overwrite a newer owner's state.
 */
export class StateStore {
  constructor(
    private readonly store: Store,
    private readonly directory: ActorDirectory,
    private readonly prefix: string,
    private readonly writes: ReturnType<Metrics["counter"]>,
  ) {}

  /** The Store key of a target's state. */
  key(target: Target): string {
    return `${this.prefix}${target.id}`;
  }

  /** The stored state, decoded without checking (introspection), or undefined. */
  async read(target: Target): Promise<{ state: unknown } | undefined> {
    const entry = await this.store.get(this.key(target));
    return entry === undefined ? undefined : { state: jsonCodec.decode(entry.value) };
  }

  /** Loads the state to activate with; a state that fails the schema is INVALID_ARGUMENT. */
  async load(target: Target): Promise<LoadedState> {
    const { definition, address } = target;
    const entry = await this.store.get(this.key(target));
    if (entry !== undefined) {
      const field = `${definition.name}/${address.key} stored state`;
      return {
        state: parseWith(definition.state, jsonCodec.decode(entry.value), field),
        stored: true,
      };
    }
    const initial = definition.initialState(target.keyValue);
    return {
      state: parseWith(definition.state, initial, `${definition.name} initialState`),
      stored: false,
    };
  }

  /** One fenced state write. A failed fence means another activation took over: LEASE_LOST. */
  async write(target: Target, epoch: number, bytes: Uint8Array): Promise<void> {
    const { address } = target;
    try {
      await this.store.commit([
        ...this.directory.fence(address, epoch),
        { type: "set", key: this.key(target), value: bytes },
      ]);
      this.writes.inc();
    } catch (error) {
      if (StoreConflictError.isInstance(error)) {
        throw new TroupeError(
          "LEASE_LOST",
          `actor ${address.type}/${address.key}: another activation took over (epoch ${epoch} is no longer current); this write was rejected and the activation dropped`,
          { cause: error, details: { address, epoch } },
        );
      }
      throw error;
    }
  }
}
