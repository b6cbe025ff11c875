// The subsystems of the worker-pool tests: the test imports them for the calling thread, and the
// batch workers import this module by its URL. Values come from the actor's data, so every actor
// folds different numbers; `data.fail` makes one subsystem throw, `data.bad` one emit a bad value.
import type { CombinerRegistry, Subsystem } from "../src/index.js";
import { prepareOutput } from "../src/index.js";

export const batchCombiner: CombinerRegistry = {
  dimensions: {
    strength: { use_pipeline: true, clamp_default: { min: -1e9, max: 1e9 }, soft_ratio: 0.5 },
    agility: { use_pipeline: true, clamp_default: { min: -1e9, max: 1e9 } },
    crit: { use_pipeline: false, operator: "MAX", clamp_default: { min: -1, max: 1 } },
    hp: { use_pipeline: true, clamp_default: { min: 1, max: 1e12 } },
  },
};

const num = (value: unknown, fallback = 0) => (typeof value === "number" ? value : fallback);

const base = prepareOutput({
  primary: [{ dimension: "strength", bucket: "FLAT", value: 3, system: "race" }],
  derived: [{ dimension: "hp", bucket: "FLAT", value: 50, system: "race" }],
  caps: [],
  meta: { system: "race" },
});

export const subsystems: Subsystem[] = [
  { id: "race", priority: 100, contribute: () => base },
  {
    id: "gear",
    priority: 10,
    contribute: (actor) => {
      if (actor.data.fail === true) throw new Error("gear is broken");
      const a = num(actor.data.a);
      const b = num(actor.data.b);
      return {
        primary: [
          { dimension: "strength", bucket: "FLAT", value: a, system: "gear" },
          { dimension: "strength", bucket: "MULT", value: Math.abs(b) % 3, system: "gear" },
          { dimension: "agility", bucket: "POST_ADD", value: b, system: "gear", priority: 2 },
          { dimension: "crit", bucket: "FLAT", value: Math.tanh(a), system: "gear" },
        ],
        derived: [{ dimension: "hp", bucket: "MULT", value: Math.abs(a) % 1, system: "gear" }],
        caps: [
          {
            system: "gear",
            dimension: "strength",
            mode: "SOFT_MAX",
            kind: "max",
            value: num(actor.data.knee, 1e6),
            scope: "WORLD",
          },
        ],
        meta: { system: "gear" },
        ...(actor.data.context === true
          ? { context: { vs_undead: { additive_percent: a % 1, multipliers: [1.5] } } }
          : {}),
      };
    },
  },
  {
    id: "buffs",
    emit(actor, writer) {
      const c = num(actor.data.c);
      writer.primary("agility", "FLAT", c);
      writer.primary("agility", "FLAT", c / 3, 1);
      writer.primary("strength", "FLAT", actor.data.bad === true ? Number.NaN : c * 2);
      writer.derived("hp", "POST_ADD", c);
      writer.cap("agility", "HARD_MAX", "max", num(actor.data.cap, 1e8), "EVENT");
      writer.cap("agility", "BASELINE", "min", -Math.abs(c), "TOTAL");
    },
  },
];
