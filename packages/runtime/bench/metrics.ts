// The runtime's Prometheus metrics against prom-client, side by side in one process: the cost a
// request pays to report itself (a counter and a histogram with labels, as the runtime's HTTP
// middleware does), and the cost of one scrape of a registry the size a busy runtime holds.
// prom-client is given its best case: label names declared up front (the core Metrics port does
// not declare them, so a real prom-client backend would have to find them on first use).
import type { Counter, Gauge, Histogram, MetricLabels, Metrics } from "@troupe/core";
import { measureThroughput, printTable } from "@troupe/testkit";
import client from "prom-client";
import { createPrometheusMetrics, DEFAULT_BUCKETS } from "../src/prometheus.js";

interface Candidate {
  readonly name: string;
  readonly metrics: Metrics;
  render(): string | Promise<string>;
}

function troupeCandidate(): Candidate {
  const metrics = createPrometheusMetrics();
  return { name: "Troupe (hand-written)", metrics, render: () => metrics.render() };
}

function promClientCandidate(labelNames: Readonly<Record<string, readonly string[]>>): Candidate {
  const registry = new client.Registry();
  const labelsOf = (name: string) => [...(labelNames[name] ?? [])];
  const help = (name: string, text: string | undefined) => text ?? name;
  const found = new Map<string, Counter | Gauge | Histogram>();
  const metrics: Metrics = {
    counter(name, options = {}) {
      const known = found.get(name) as Counter | undefined;
      if (known) return known;
      const counter = new client.Counter({
        name,
        help: help(name, options.help),
        labelNames: labelsOf(name),
        registers: [registry],
      });
      const wrapped: Counter = {
        inc: (value = 1, labels: MetricLabels = {}) => counter.inc(labels, value),
      };
      found.set(name, wrapped);
      return wrapped;
    },
    gauge(name, options = {}) {
      const known = found.get(name) as Gauge | undefined;
      if (known) return known;
      const gauge = new client.Gauge({
        name,
        help: help(name, options.help),
        labelNames: labelsOf(name),
        registers: [registry],
      });
      const wrapped: Gauge = {
        set: (value, labels: MetricLabels = {}) => gauge.set(labels, value),
        inc: (value = 1, labels: MetricLabels = {}) => gauge.inc(labels, value),
        dec: (value = 1, labels: MetricLabels = {}) => gauge.dec(labels, value),
      };
      found.set(name, wrapped);
      return wrapped;
    },
    histogram(name, options = {}) {
      const known = found.get(name) as Histogram | undefined;
      if (known) return known;
      const histogram = new client.Histogram({
        name,
        help: help(name, options.help),
        labelNames: labelsOf(name),
        buckets: [...(options.buckets ?? DEFAULT_BUCKETS)],
        registers: [registry],
      });
      const wrapped: Histogram = {
        observe: (value, labels: MetricLabels = {}) => histogram.observe(labels, value),
      };
      found.set(name, wrapped);
      return wrapped;
    },
  };
  return { name: "prom-client 15", metrics, render: () => registry.metrics() };
}

const REQUEST_LABELS = {
  troupe_http_requests_total: ["method", "status"],
  troupe_http_request_duration_ms: ["method"],
};

const METHODS = ["GET", "POST", "PUT", "DELETE"];
const STATUSES = ["200", "201", "400", "404", "500"];
const BATCH = 100;

/** One measured operation: BATCH requests reporting themselves. */
function requestReporter(metrics: Metrics): (iteration: number) => void {
  const requests = metrics.counter("troupe_http_requests_total", { help: "HTTP requests" });
  const duration = metrics.histogram("troupe_http_request_duration_ms", {
    help: "Time to answer, ms",
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
  });
  return (iteration) => {
    for (let i = 0; i < BATCH; i++) {
      const n = iteration * BATCH + i;
      const method = METHODS[n % METHODS.length] ?? "GET";
      requests.inc(1, { method, status: STATUSES[n % STATUSES.length] ?? "200" });
      duration.observe((n % 97) * 3.1, { method });
    }
  };
}

/** Families and series of a busy runtime: flows, actors, stats and HTTP, with labels. */
function fill(metrics: Metrics): void {
  for (let family = 0; family < 10; family++) {
    const counter = metrics.counter(`bench_counter_${family}_total`, { help: "a counter" });
    const gauge = metrics.gauge(`bench_gauge_${family}`, { help: "a gauge" });
    const histogram = metrics.histogram(`bench_histogram_${family}_ms`, { help: "a histogram" });
    for (let series = 0; series < 10; series++) {
      const labels = { function: `fn-${series}`, outcome: series % 2 === 0 ? "ok" : "error" };
      counter.inc(series + 1, labels);
      gauge.set(series * 7, labels);
      for (let i = 0; i < 20; i++) histogram.observe(i * 13.7, labels);
    }
  }
}

const scrapeLabels: Record<string, readonly string[]> = { ...REQUEST_LABELS };
for (let family = 0; family < 10; family++) {
  for (const name of [
    `bench_counter_${family}_total`,
    `bench_gauge_${family}`,
    `bench_histogram_${family}_ms`,
  ]) {
    scrapeLabels[name] = ["function", "outcome"];
  }
}

const rows: Record<string, string | number>[] = [];
const requestBaseline: number[] = [];
const scrapeBaseline: number[] = [];
// Two passes, interleaved, so the table shows how much a busy machine moves the numbers.
const passes = [1, 2].flatMap((pass) => [
  { pass, make: troupeCandidate },
  { pass, make: () => promClientCandidate(scrapeLabels) },
]);
for (const { pass, make } of passes) {
  const reporting = make();
  const report = requestReporter(reporting.metrics);
  const requests = await measureThroughput(`${reporting.name}`, report);
  const scraping = make();
  fill(scraping.metrics);
  const size = (await scraping.render()).length;
  const scrape = await measureThroughput(reporting.name, async () => {
    await scraping.render();
  });
  const nsPerRequest = 1e9 / (requests.opsPerSec * BATCH);
  requestBaseline.push(nsPerRequest);
  scrapeBaseline.push(scrape.p50Us ?? 0);
  rows.push({
    pass,
    implementation: reporting.name,
    "ns per request (counter + histogram)": nsPerRequest,
    "× Troupe": nsPerRequest / (requestBaseline[0] ?? nsPerRequest),
    "scrape p50 µs": scrape.p50Us ?? 0,
    "scrape p99 µs": scrape.p99Us ?? 0,
    "scrape × Troupe": (scrape.p50Us ?? 0) / (scrapeBaseline[0] ?? 1),
    "scrape KiB": size / 1024,
  });
}
printTable(
  `metrics: reporting a request, and one scrape of 30 families × 10 series (${BATCH} requests per measured operation)`,
  rows,
);
