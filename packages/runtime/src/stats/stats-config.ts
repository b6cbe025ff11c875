import { z } from "zod";

const systemIdPattern = /^[a-z][a-z0-9_]*$/;

const systemSchema = z.strictObject({
  /** The subsystem id used in `PUT /stats/actors/:id/subsystems/:system`. */
  id: z.string().regex(systemIdPattern, "expected a subsystem id matching ^[a-z][a-z0-9_]*$"),
  /** Run order: higher first, ties by id (rule R1). Default 0. */
  priority: z.number().int().min(0).default(0),
});

/**
 * The `stats` section of the runtime config: per-actor stat snapshots served under
 * `/stats/actors`. Registry paths are resolved from the working directory and watched.
 */
export const statsServiceConfigSchema = z.strictObject({
  /** The combiner registry file (YAML or JSON). */
  registry: z.string().min(1, "expected the path of the combiner registry file"),
  /** The layer registry file; default `[REALM, WORLD, EVENT, TOTAL]`, INTERSECT. */
  layers: z.string().min(1, "expected the path of the layer registry file").optional(),
  /** Reload the registry files when they change (default true). */
  watch: z.boolean({ error: "expected true or false" }).default(true),
  /** The subsystems actors may hold outputs for: ids or `{ id, priority }`. */
  systems: z
    .array(
      z.union([
        z
          .string()
          .regex(systemIdPattern, "expected a subsystem id matching ^[a-z][a-z0-9_]*$")
          .transform((id) => ({ id, priority: 0 })),
        systemSchema,
      ]),
    )
    .min(1, "expected at least one subsystem id")
    .superRefine((systems, context) => {
      const seen = new Set<string>();
      systems.forEach((system, index) => {
        if (seen.has(system.id)) {
          context.addIssue({
            code: "custom",
            path: [index],
            message: `${system.id} is listed twice`,
          });
        }
        seen.add(system.id);
      });
    }),
  cache: z
    .strictObject({
      /** L1 (memory) capacity in actors. Default 10,000. */
      maxEntries: z.number().int().min(1).default(10_000),
      /**
       * L1 time to live in ms: the bound on staleness if a cross-process invalidation message is
       * lost (messages normally arrive within milliseconds). Default 10,000.
       */
      ttlMs: z.number().int().min(1).default(10_000),
      /** Keep computed snapshots in the runtime's Store as the L2 tier (default true). */
      store: z.boolean({ error: "expected true or false" }).default(true),
    })
    .prefault({}),
  /** Largest request body of the stats routes, bytes. Default 262,144. */
  maxBodyBytes: z.number().int().min(1).default(262_144),
  /** Largest batch (`PUT /stats/actors`, `GET /stats/actors?ids=`). Default 1,000. */
  maxBatch: z.number().int().min(1).default(1_000),
  /** The PubSub channel invalidations travel on. Default `troupe.stats.invalidate`. */
  channel: z.string().min(1).default("troupe.stats.invalidate"),
});

/** The `stats` config as written. */
export type StatsServiceConfigInput = z.input<typeof statsServiceConfigSchema>;

/** The `stats` config with defaults filled in. */
export type StatsServiceConfig = z.output<typeof statsServiceConfigSchema>;
