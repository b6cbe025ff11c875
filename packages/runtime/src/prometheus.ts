import {
  type Counter,
  type Gauge,
  type Histogram,
  invalidArgument,
  type MetricLabels,
  type MetricOptions,
  type Metrics,
} from "@troupe/core";

/** Bucket bounds of a histogram declared without `buckets` (milliseconds-friendly). */
export const DEFAULT_BUCKETS: readonly number[] = [
  1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000,
];

type Kind = "counter" | "gauge" | "histogram";

interface Family {
  readonly name: string;
  readonly kind: Kind;
  help: string;
  readonly buckets: readonly number[];
  readonly series: Map<string, Series>;
  /**
   * Series of frozen label objects by identity: a hot caller that passes the same frozen labels
   * at every report skips building the series key. Frozen, so the labels cannot have changed.
   */
  readonly frozen: WeakMap<MetricLabels, Series>;
  /** The frozen labels last reported, and their series: one comparison for the hottest caller. */
  lastLabels: MetricLabels | undefined;
  lastSeries: Series | undefined;
}

interface Series {
  /** The labels as rendered between braces (`method="GET",status="200"`), sorted by name. */
  readonly labelText: string;
  value: number;
  count: number;
  /** Histogram: observations per bucket (not cumulative), one slot per bound. */
  readonly bucketCounts: number[];
}

/** {@link Metrics} that render as the Prometheus text exposition format (version 0.0.4). */
export interface PrometheusMetrics extends Metrics {
  /** Every family in declaration order, with `# HELP` and `# TYPE` lines. */
  render(): string;
}

/** The `Content-Type` of {@link PrometheusMetrics.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function formatLabels(labels: readonly (readonly [string, string])[]): string {
  return labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(",");
}

const NO_LABELS: MetricLabels = Object.freeze({});

function braced(labelText: string): string {
  return labelText === "" ? "" : `{${labelText}}`;
}

/**
 * The key of a label set, the same whatever the order its names were given in. Every report
 * computes it (a request's middleware reports twice), so it is built by hand: names sorted, each
 * value prefixed with its length, so no value can pass for the end of another.
 */
function seriesKey(labels: MetricLabels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let key = "";
  for (const name of names) {
    const value = labels[name] ?? "";
    key += `${name}=${value.length}:${value}`;
  }
  return key;
}

/**
 * Creates metrics kept in memory and rendered on demand for a `/metrics` endpoint. Names and
 * label names are checked against Prometheus' rules when first used; asking for one name as two
 * kinds is an error, because Prometheus cannot express it.
 */
export function createPrometheusMetrics(): PrometheusMetrics {
  const families = new Map<string, Family>();

  const family = (kind: Kind, name: string, options: MetricOptions = {}): Family => {
    const found = families.get(name);
    if (found) {
      if (found.kind !== kind) {
        throw invalidArgument("metrics.name", `${name} is already a ${found.kind}, not a ${kind}`);
      }
      if (found.help === "" && options.help) found.help = options.help;
      return found;
    }
    if (!METRIC_NAME.test(name)) {
      throw invalidArgument("metrics.name", `${JSON.stringify(name)} is not a Prometheus name`);
    }
    const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)]
      .filter((bound) => Number.isFinite(bound))
      .sort((a, b) => a - b);
    const created: Family = {
      name,
      kind,
      help: options.help ?? "",
      buckets: [...new Set(buckets)],
      series: new Map(),
      frozen: new WeakMap(),
      lastLabels: undefined,
      lastSeries: undefined,
    };
    families.set(name, created);
    return created;
  };

  const series = (target: Family, labels: MetricLabels = NO_LABELS): Series => {
    if (labels === target.lastLabels && target.lastSeries !== undefined) return target.lastSeries;
    let found = target.frozen.get(labels);
    if (found === undefined) {
      found = keyedSeries(target, labels);
      if (!Object.isFrozen(labels)) return found;
      target.frozen.set(labels, found);
    }
    target.lastLabels = labels;
    target.lastSeries = found;
    return found;
  };

  const keyedSeries = (target: Family, labels: MetricLabels): Series => {
    const key = seriesKey(labels);
    let found = target.series.get(key);
    if (!found) {
      const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [label] of sorted) {
        if (!LABEL_NAME.test(label) || label.startsWith("__") || label === "le") {
          throw invalidArgument(
            "metrics.labels",
            `${JSON.stringify(label)} is not a usable label name on ${target.name}`,
          );
        }
      }
      found = {
        labelText: formatLabels(sorted),
        value: 0,
        count: 0,
        bucketCounts: target.buckets.map(() => 0),
      };
      target.series.set(key, found);
    }
    return found;
  };

  const renderFamily = (target: Family, lines: string[]) => {
    if (target.help !== "") lines.push(`# HELP ${target.name} ${escapeHelp(target.help)}`);
    lines.push(`# TYPE ${target.name} ${target.kind}`);
    const { name } = target;
    for (const entry of target.series.values()) {
      const labels = braced(entry.labelText);
      if (target.kind !== "histogram") {
        lines.push(`${name}${labels} ${formatNumber(entry.value)}`);
        continue;
      }
      // `le` goes last, after the series' own labels.
      const before = entry.labelText === "" ? "" : `${entry.labelText},`;
      let cumulative = 0;
      target.buckets.forEach((bound, index) => {
        cumulative += entry.bucketCounts[index] ?? 0;
        lines.push(`${name}_bucket{${before}le="${formatNumber(bound)}"} ${cumulative}`);
      });
      lines.push(`${name}_bucket{${before}le="+Inf"} ${entry.count}`);
      lines.push(`${name}_sum${labels} ${formatNumber(entry.value)}`);
      lines.push(`${name}_count${labels} ${entry.count}`);
    }
  };

  return {
    counter(name, options): Counter {
      const target = family("counter", name, options);
      return {
        inc(value = 1, labels) {
          // A counter that went down would read as a process restart to Prometheus.
          if (!(value >= 0)) return;
          series(target, labels).value += value;
        },
      };
    },
    gauge(name, options): Gauge {
      const target = family("gauge", name, options);
      return {
        set(value, labels) {
          series(target, labels).value = value;
        },
        inc(value = 1, labels) {
          series(target, labels).value += value;
        },
        dec(value = 1, labels) {
          series(target, labels).value -= value;
        },
      };
    },
    histogram(name, options): Histogram {
      const target = family("histogram", name, options);
      return {
        observe(value, labels) {
          const entry = series(target, labels);
          entry.value += value;
          entry.count += 1;
          const { buckets } = target;
          for (let index = 0; index < buckets.length; index++) {
            if (value <= (buckets[index] ?? Number.POSITIVE_INFINITY)) {
              entry.bucketCounts[index] = (entry.bucketCounts[index] ?? 0) + 1;
              break;
            }
          }
        },
      };
    },
    render() {
      const lines: string[] = [];
      for (const target of families.values()) renderFamily(target, lines);
      return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
    },
  };
}
