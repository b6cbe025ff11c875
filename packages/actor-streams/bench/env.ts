// The environment knobs of the actor-streams benches (bench/index.ts, bench/trace-pg.ts,
// bench/commit-model.ts), parsed in one place: the knobs they share with their defaults, and the
// parsers for the knobs of one bench. A value that is not what the knob takes fails at start,
// naming the variable.

/** `name` as a number ≥ 0, or `fallback` when unset or empty. */
export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0)
    throw new Error(`${name}: expected a number ≥ 0, got ${JSON.stringify(raw)}`);
  return value;
}

/** `name` as a comma-separated list, or `fallback` (also comma-separated) when unset. */
export function envList(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback).split(",");
}

/** Events published per second at the steady rate (`BENCH_RATE`). */
export const rate = envNumber("BENCH_RATE", 1_000);
/** How long a measured steady-rate run lasts (`BENCH_DURATION_MS`). */
export const durationMs = envNumber("BENCH_DURATION_MS", 3_000);
/** Streams the events are spread over (`BENCH_STREAMS`). */
export const streamCount = envNumber("BENCH_STREAMS", 10);
export const postgresUrl =
  process.env.TROUPE_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const natsUrl = process.env.TROUPE_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
