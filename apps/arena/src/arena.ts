import { fileURLToPath } from "node:url";
import type { Logger } from "@troupe/core";
import { createRuntime, parseRuntimeConfig, type Runtime } from "@troupe/runtime";
import { createArenaFunctions } from "./arena-functions.js";

/** Options of {@link createArena}. */
export interface ArenaOptions {
  /** The storage URL; default `sqlite:./.troupe/arena.db`. */
  readonly storageUrl?: string;
  /** The HTTP port; default 8290 (0 picks a free one). */
  readonly port?: number;
  /** The combiner registry; default the arena's `registry.yaml` (watched). */
  readonly registry?: string;
  readonly logger?: Logger;
}

/** The arena's subsystems: what a player's gear gives, its buffs, and its match record. */
export const ARENA_SYSTEMS = [
  { id: "equipment", priority: 2 },
  { id: "buffs", priority: 1 },
  { id: "rewards", priority: 0 },
] as const;

/** A runtime hosting the arena: the stats service for players, the flows for matches. */
export function createArena(options: ArenaOptions = {}): Runtime {
  let runtime: Runtime | undefined;
  const functions = createArenaFunctions(() => runtime?.stats);
  runtime = createRuntime(
    parseRuntimeConfig({
      storage: { url: options.storageUrl ?? "sqlite:./.troupe/arena.db" },
      server: { port: options.port ?? 8290 },
      flows: { pollIntervalMs: 20 },
      stats: {
        registry: options.registry ?? fileURLToPath(new URL("../registry.yaml", import.meta.url)),
        systems: [...ARENA_SYSTEMS],
      },
    }),
    { functions, inngest: false, ...(options.logger ? { logger: options.logger } : {}) },
  );
  return runtime;
}
