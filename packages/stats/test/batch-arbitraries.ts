// The batch property tests' input: batches of actors over the batch subsystems (some unknown,
// some failing or refused, values at the edges of float64), each actor at a fresh version.
import fc from "fast-check";
import type { Actor } from "../src/index.js";
import { testActor } from "../src/test-actor.js";

const ids = fc
  .subarray(["race", "gear", "buffs", "nope"], { minLength: 0 })
  .chain((list) => fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }));
const actorData = fc.record({
  a: fc.double(),
  b: fc.double({ noNaN: true, min: -1e6, max: 1e6 }),
  c: fc.oneof(fc.double({ noNaN: true, min: -1e3, max: 1e3 }), fc.constantFrom(-0, 0, 1e300)),
  knee: fc.double({ noNaN: true, min: -1e3, max: 1e6 }),
  cap: fc.double({ noNaN: true, min: -1e3, max: 1e6 }),
  fail: fc.boolean(),
  bad: fc.boolean(),
  context: fc.boolean(),
});
let nextVersion = 1;

/** 1–300 actors, ids repeating every 97, every actor at a version no earlier batch used. */
export const actorBatch = fc
  .array(fc.tuple(ids, actorData), { minLength: 1, maxLength: 300 })
  .map((entries) =>
    entries.map(
      ([list, data], index): Actor => testActor(`actor_${index % 97}`, list, nextVersion++, data),
    ),
  );
