import { describe, expect, it } from "vitest";
import { createPrometheusMetrics } from "./prometheus.js";

describe("createPrometheusMetrics", () => {
  it("renders counters, gauges and histograms in the text exposition format", () => {
    const metrics = createPrometheusMetrics();
    const requests = metrics.counter("http_requests_total", { help: "Requests served" });
    requests.inc(1, { method: "GET", status: "200" });
    requests.inc(2, { status: "200", method: "GET" });
    requests.inc(1, { method: "POST", status: "500" });
    const depth = metrics.gauge("queue_depth", { help: "Items waiting" });
    depth.set(7);
    depth.dec(2);
    const latency = metrics.histogram("step_ms", { help: "Step time", buckets: [10, 1, 100] });
    for (const value of [0.5, 1, 5, 50, 500]) latency.observe(value, { function: "welcome" });

    expect(metrics.render()).toBe(
      [
        "# HELP http_requests_total Requests served",
        "# TYPE http_requests_total counter",
        'http_requests_total{method="GET",status="200"} 3',
        'http_requests_total{method="POST",status="500"} 1',
        "# HELP queue_depth Items waiting",
        "# TYPE queue_depth gauge",
        "queue_depth 5",
        "# HELP step_ms Step time",
        "# TYPE step_ms histogram",
        'step_ms_bucket{function="welcome",le="1"} 2',
        'step_ms_bucket{function="welcome",le="10"} 3',
        'step_ms_bucket{function="welcome",le="100"} 4',
        'step_ms_bucket{function="welcome",le="+Inf"} 5',
        'step_ms_sum{function="welcome"} 556.5',
        'step_ms_count{function="welcome"} 5',
        "",
      ].join("\n"),
    );
  });

  it("escapes label values and help text", () => {
    const metrics = createPrometheusMetrics();
    metrics.counter("odd_total", { help: "a \\ and\na newline" }).inc(1, { name: 'say "hi"\n' });
    expect(metrics.render()).toBe(
      [
        "# HELP odd_total a \\\\ and\\na newline",
        "# TYPE odd_total counter",
        'odd_total{name="say \\"hi\\"\\n"} 1',
        "",
      ].join("\n"),
    );
  });

  it("reports to one series when a name is asked for twice, and ignores negative counter steps", () => {
    const metrics = createPrometheusMetrics();
    metrics.counter("events_total").inc(2);
    metrics.counter("events_total", { help: "Events" }).inc(-5);
    metrics.counter("events_total").inc();
    expect(metrics.render()).toBe(
      "# HELP events_total Events\n# TYPE events_total counter\nevents_total 3\n",
    );
  });

  it("counts a frozen label set, reused by identity, in the same series as equal labels", () => {
    const metrics = createPrometheusMetrics();
    const hits = metrics.counter("hits_total");
    const misses = metrics.counter("misses_total");
    const l1 = Object.freeze({ tier: "l1" });
    hits.inc(1, l1);
    hits.inc(2, { tier: "l1" });
    hits.inc(1, l1);
    misses.inc(5, l1); // the same object on another family is that family's own series
    hits.inc(1, Object.freeze({ tier: "l2" }));
    hits.inc(1);
    hits.inc(1, Object.freeze({}));
    expect(metrics.render()).toBe(
      [
        "# TYPE hits_total counter",
        'hits_total{tier="l1"} 4',
        'hits_total{tier="l2"} 1',
        "hits_total 2",
        "# TYPE misses_total counter",
        'misses_total{tier="l1"} 5',
        "",
      ].join("\n"),
    );
    // A frozen set with a bad label name is refused at every report, not only the first.
    const bad = Object.freeze({ le: "1" });
    expect(() => hits.inc(1, bad)).toThrow(/metrics\.labels/);
    expect(() => hits.inc(1, bad)).toThrow(/metrics\.labels/);
  });

  it("rejects names Prometheus cannot express, naming the problem", () => {
    const metrics = createPrometheusMetrics();
    expect(() => metrics.counter("bad-name")).toThrow(/metrics\.name: "bad-name"/);
    metrics.gauge("things");
    expect(() => metrics.counter("things")).toThrow(/things is already a gauge/);
    expect(() => metrics.counter("ok_total").inc(1, { le: "1" })).toThrow(/metrics\.labels/);
  });

  it("renders nothing before anything is declared", () => {
    expect(createPrometheusMetrics().render()).toBe("");
  });
});
