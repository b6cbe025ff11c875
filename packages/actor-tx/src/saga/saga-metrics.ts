import { type Counter, type Metrics, noopMetrics } from "@troupe/core";

/** The saga counters (README "Metrics"); each is labelled with `saga`, the saga's name. */
export interface SagaMetrics {
  readonly stepsStarted: Counter;
  readonly stepsCompleted: Counter;
  readonly stepsFailed: Counter;
  readonly compensationsStarted: Counter;
  readonly compensationsCompleted: Counter;
  readonly compensationsFailed: Counter;
  readonly completed: Counter;
  readonly compensated: Counter;
  readonly compensationFailed: Counter;
}

/** Registers (or finds) the saga counters on `metrics`. */
export function sagaMetrics(metrics: Metrics = noopMetrics): SagaMetrics {
  const counter = (name: string, help: string) => metrics.counter(name, { help });
  return {
    stepsStarted: counter("actors_saga_steps_started_total", "Saga step attempts started"),
    stepsCompleted: counter("actors_saga_steps_completed_total", "Saga step attempts completed"),
    stepsFailed: counter("actors_saga_steps_failed_total", "Saga step attempts that threw"),
    compensationsStarted: counter(
      "actors_saga_compensations_started_total",
      "Saga compensation attempts started",
    ),
    compensationsCompleted: counter(
      "actors_saga_compensations_completed_total",
      "Saga compensation attempts completed",
    ),
    compensationsFailed: counter(
      "actors_saga_compensations_failed_total",
      "Saga compensation attempts that threw",
    ),
    completed: counter("actors_saga_completed_total", "Sagas whose every step completed"),
    compensated: counter(
      "actors_saga_compensated_total",
      "Sagas that failed at a step and were compensated",
    ),
    compensationFailed: counter(
      "actors_saga_compensation_failed_total",
      "Sagas stopped by a compensation that failed for good (they need a human)",
    ),
  };
}
