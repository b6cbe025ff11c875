import { type Counter, invalidArgument, type Logger } from "@troupe/core";
import { errorMessage } from "./actor-checks.js";
import { decodeStoredSnapshot, encodeStoredSnapshot, type SnapshotTier } from "./cache.js";
import type { Actor, Snapshot } from "./types.js";

/** Where tier hits, misses and failures are counted and logged. */
export interface SnapshotTiersOptions {
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly errors: Counter;
  readonly logger: Logger;
}

/** The store-backed snapshot tiers (L2, L3, …) of one engine, looked up in order. */
export interface SnapshotTiers {
  /** How many tiers are configured. */
  readonly length: number;
  /**
   * The first tier's snapshot of `actor` stored under `fingerprint`, re-stamped with `epoch` and
   * copied into the tiers before it; undefined when no tier has it.
   */
  read(actor: Actor, fingerprint: string, epoch: number): Promise<Snapshot | undefined>;
  /** Writes `snapshot` into the first `upTo` tiers; a failing tier is logged, not thrown. */
  write(snapshot: Snapshot, fingerprint: string, upTo: number): Promise<void>;
  /** Deletes `actorId` from every tier. */
  delete(actorId: string): Promise<void>;
}

/** Checks the tier options (errors name `cache.tiers[i]`) and wraps them. */
export function createSnapshotTiers(
  configs: readonly SnapshotTier[],
  options: SnapshotTiersOptions,
): SnapshotTiers {
  const { cacheHits, cacheMisses, errors, logger } = options;
  const tiers = configs.map((tier, index) => {
    if (typeof tier?.store?.get !== "function" || typeof tier.store.commit !== "function") {
      throw invalidArgument(`cache.tiers[${index}].store`, "expected a Store");
    }
    const name = tier.name ?? `l${index + 2}`;
    return {
      store: tier.store,
      name,
      keyPrefix: tier.keyPrefix ?? "stats/snapshot/",
      labels: { tier: name },
    };
  });

  const write = async (snapshot: Snapshot, fingerprint: string, upTo: number) => {
    if (upTo === 0) return;
    const bytes = encodeStoredSnapshot(snapshot, fingerprint);
    await Promise.all(
      tiers.slice(0, upTo).map(async (tier) => {
        try {
          await tier.store.commit([
            { type: "set", key: `${tier.keyPrefix}${snapshot.actor_id}`, value: bytes },
          ]);
        } catch (error) {
          errors.inc(1, { reason: "cache_tier" });
          logger.warn("stats cache tier write failed", {
            tier: tier.name,
            error: errorMessage(error),
          });
        }
      }),
    );
  };

  return {
    length: tiers.length,
    async read(actor, fingerprint, epoch) {
      for (let index = 0; index < tiers.length; index++) {
        const tier = tiers[index] as (typeof tiers)[number];
        let found: Snapshot | undefined;
        try {
          const entry = await tier.store.get(`${tier.keyPrefix}${actor.id}`);
          if (entry !== undefined) {
            found = decodeStoredSnapshot(entry.value, fingerprint, actor.version);
          }
        } catch (error) {
          errors.inc(1, { reason: "cache_tier" });
          logger.warn("stats cache tier read failed", {
            tier: tier.name,
            error: errorMessage(error),
          });
        }
        if (found === undefined) {
          cacheMisses.inc(1, tier.labels);
          continue;
        }
        cacheHits.inc(1, tier.labels);
        // The epoch is per process; the fingerprint already proved the registries match.
        const snapshot: Snapshot = { ...found, epoch };
        await write(snapshot, fingerprint, index);
        return snapshot;
      }
      return undefined;
    },
    write,
    async delete(actorId) {
      await Promise.all(
        tiers.map((tier) =>
          tier.store.commit([{ type: "delete", key: `${tier.keyPrefix}${actorId}` }]),
        ),
      );
    },
  };
}
