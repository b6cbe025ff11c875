import { describe, expect, it } from "vitest";
import { createMemoryMetrics, noopMetrics } from "./metrics.js";

describe("metrics", () => {
  it("records counters, gauges and histograms per label set", () => {
    const metrics = createMemoryMetrics();
    const hits = metrics.counter("cache_hits_total");
    hits.inc();
    hits.inc(2, { tier: "l1" });
    hits.inc(1, { tier: "l1" });
    metrics.gauge("queue_depth").set(7);
    metrics.gauge("queue_depth").dec(2);
    metrics.histogram("resolve_ms").observe(1.5);
    metrics.histogram("resolve_ms").observe(2.5);
    expect(metrics.value("cache_hits_total")).toBe(1);
    expect(metrics.value("cache_hits_total", { tier: "l1" })).toBe(3);
    expect(metrics.value("queue_depth")).toBe(5);
    const histogram = metrics.series().find((series) => series.name === "resolve_ms");
    expect(histogram).toMatchObject({ kind: "histogram", value: 4, count: 2 });
  });

  it("treats label order as irrelevant", () => {
    const metrics = createMemoryMetrics();
    metrics.counter("x").inc(1, { a: "1", b: "2" });
    metrics.counter("x").inc(1, { b: "2", a: "1" });
    expect(metrics.value("x", { b: "2", a: "1" })).toBe(2);
  });

  it("counts a series without labels in one place, whichever instrument of its name counts", () => {
    const metrics = createMemoryMetrics();
    const first = metrics.counter("y_total");
    first.inc();
    metrics.counter("y_total").inc(2);
    first.inc(1, {});
    first.inc(5, { a: "1" });
    expect(metrics.value("y_total")).toBe(4);
    expect(metrics.value("y_total", { a: "1" })).toBe(5);
    expect(metrics.series().filter((series) => series.name === "y_total")).toHaveLength(2);
  });

  it("has a no-op default that accepts every call", () => {
    expect(() => {
      noopMetrics.counter("a").inc();
      noopMetrics.gauge("b").set(1);
      noopMetrics.histogram("c").observe(1);
    }).not.toThrow();
  });
});
