import type { Actor } from "./types.js";

/**
 * An actor for tests (not exported by the package): `id`, listing `subsystems`, at `version`, with
 * `data` for the subsystems to read (default `{ level: version }`).
 */
export function testActor(
  id: string,
  subsystems: readonly string[],
  version = 1,
  data: Readonly<Record<string, unknown>> = { level: version },
): Actor {
  return {
    id,
    name: id,
    race: "human",
    lifespan: 80,
    age: 30,
    created_at: 0,
    updated_at: 0,
    version,
    subsystems,
    data,
  };
}
