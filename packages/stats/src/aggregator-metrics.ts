import type { Counter, Gauge, Histogram, Metrics } from "@troupe/core";

/** The `actor_core_*` instruments one stat engine reports to. */
export interface AggregatorMetrics {
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly cacheHits: Counter;
  readonly cacheMisses: Counter;
  readonly errors: Counter;
  readonly activeActors: Gauge;
}

/** Registers the engine's instruments on `metrics`. */
export function createAggregatorMetrics(metrics: Metrics): AggregatorMetrics {
  return {
    requests: metrics.counter("actor_core_requests_total", {
      help: "Stat resolves requested.",
    }),
    duration: metrics.histogram("actor_core_request_duration_seconds", {
      help: "Time to resolve an actor's stats.",
      buckets: [0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1],
    }),
    cacheHits: metrics.counter("actor_core_cache_hits_total", {
      help: "Snapshot cache hits by tier.",
    }),
    cacheMisses: metrics.counter("actor_core_cache_misses_total", {
      help: "Snapshot cache misses by tier.",
    }),
    errors: metrics.counter("actor_core_errors_total", {
      help: "Failed resolves and cache-tier errors.",
    }),
    activeActors: metrics.gauge("actor_core_active_actors", {
      help: "Actors with a snapshot in the L1 cache.",
    }),
  };
}
