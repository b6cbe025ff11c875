/** Label values attached to one observation, e.g. `{ adapter: "sqlite" }`. */
export type MetricLabels = Readonly<Record<string, string>>;

/** A value that only goes up (requests served, cache hits). */
export interface Counter {
  /** Adds `value` (default 1). */
  inc(value?: number, labels?: MetricLabels): void;
}

/** A value that goes up and down (queue depth, open activations). */
export interface Gauge {
  /** Sets the value. */
  set(value: number, labels?: MetricLabels): void;
  /** Adds `value` (default 1). */
  inc(value?: number, labels?: MetricLabels): void;
  /** Subtracts `value` (default 1). */
  dec(value?: number, labels?: MetricLabels): void;
}

/** A distribution of observations (latencies, sizes). */
export interface Histogram {
  /** Records one observation. */
  observe(value: number, labels?: MetricLabels): void;
}

/** How a metric is declared. */
export interface MetricOptions {
  /** What the metric measures, for `/metrics` help text. */
  readonly help?: string;
  /** Bucket upper bounds for histograms. */
  readonly buckets?: readonly number[];
}

/**
 * Where Troupe packages report metrics. Implementations forward to Prometheus, OpenTelemetry or
 * anything else; the default is {@link noopMetrics}. Asking twice for the same name returns an
 * instrument that reports to the same series.
 */
export interface Metrics {
  /** A counter named `name`. */
  counter(name: string, options?: MetricOptions): Counter;
  /** A gauge named `name`. */
  gauge(name: string, options?: MetricOptions): Gauge;
  /** A histogram named `name`. */
  histogram(name: string, options?: MetricOptions): Histogram;
}

const noopInstrument: Counter & Gauge & Histogram = {
  inc() {},
  dec() {},
  set() {},
  observe() {},
};

/** Discards everything, at no cost. */
export const noopMetrics: Metrics = {
  counter: () => noopInstrument,
  gauge: () => noopInstrument,
  histogram: () => noopInstrument,
};

/** One recorded series of {@link MemoryMetrics}. */
export interface MetricSeries {
  readonly kind: "counter" | "gauge" | "histogram";
  readonly name: string;
  readonly labels: MetricLabels;
  /** Counter and gauge: the value; histogram: the sum of observations. */
  value: number;
  /** Histogram: how many observations. */
  count: number;
}

/** Metrics kept in memory, readable back: for tests and for a `/metrics` endpoint. */
export interface MemoryMetrics extends Metrics {
  /** Every series recorded so far. */
  series(): MetricSeries[];
  /** The value of one series (0 when never recorded). */
  value(name: string, labels?: MetricLabels): number;
}

/** Creates {@link MemoryMetrics}. */
export function createMemoryMetrics(): MemoryMetrics {
  const all = new Map<string, MetricSeries>();
  const seriesKey = (name: string, labels: MetricLabels) =>
    `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
  const get = (kind: MetricSeries["kind"], name: string, labels: MetricLabels = {}) => {
    const key = seriesKey(name, labels);
    let found = all.get(key);
    if (!found) {
      found = { kind, name, labels, value: 0, count: 0 };
      all.set(key, found);
    }
    return found;
  };
  return {
    counter: (name) => {
      // The series without labels is looked up once: hot counters are incremented per call.
      let plain: MetricSeries | undefined;
      return {
        inc: (value = 1, labels) => {
          if (labels !== undefined) get("counter", name, labels).value += value;
          else {
            plain ??= get("counter", name);
            plain.value += value;
          }
        },
      };
    },
    gauge: (name) => ({
      set: (value, labels) => {
        get("gauge", name, labels).value = value;
      },
      inc: (value = 1, labels) => {
        get("gauge", name, labels).value += value;
      },
      dec: (value = 1, labels) => {
        get("gauge", name, labels).value -= value;
      },
    }),
    histogram: (name) => ({
      observe: (value, labels) => {
        const series = get("histogram", name, labels);
        series.value += value;
        series.count += 1;
      },
    }),
    series: () => [...all.values()],
    value: (name, labels = {}) => all.get(seriesKey(name, labels))?.value ?? 0,
  };
}
