import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { compile } from "@ctrl/golang-template";
import { parseAllDocuments, parse as parseYaml } from "yaml";

/** What a chart's templates see: the subset of Helm's built-in objects the Troupe chart uses. */
export interface RenderContext {
  readonly Values: Record<string, unknown>;
  readonly Release: { readonly Name: string; readonly Namespace: string; readonly Service: string };
  readonly Chart: { readonly Name: string; readonly Version: string; readonly AppVersion: string };
}

/** One rendered template file: its text and the YAML documents in it (empty ones dropped). */
export interface RenderedTemplate {
  readonly file: string;
  readonly text: string;
  readonly manifests: readonly Record<string, unknown>[];
}

/** Deep merge of values (objects merged, anything else replaced), as `helm --set`/`-f` do. */
export function mergeValues(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    const isObject = (v: unknown): v is Record<string, unknown> =>
      typeof v === "object" && v !== null && !Array.isArray(v);
    out[key] = isObject(value) && isObject(current) ? mergeValues(current, value) : value;
  }
  return out;
}

/** The chart's Chart.yaml and values.yaml, read as Helm reads them. */
export function readChart(chartDir: string): {
  chart: RenderContext["Chart"];
  values: Record<string, unknown>;
} {
  const meta = parseYaml(readFileSync(path.join(chartDir, "Chart.yaml"), "utf8")) as {
    name: string;
    version: string;
    appVersion: string;
  };
  const values = parseYaml(readFileSync(path.join(chartDir, "values.yaml"), "utf8")) as Record<
    string,
    unknown
  >;
  return {
    chart: { Name: meta.name, Version: meta.version, AppVersion: String(meta.appVersion) },
    values,
  };
}

/**
 * Renders every `templates/*.yaml` of the chart with a Go-template implementation (the subset in
 * `@ctrl/golang-template`: field lookups, if/else, with, range) and parses the YAML it yields.
 * A template using anything outside that subset fails to compile here.
 */
export function renderChart(
  chartDir: string,
  options: { readonly values?: Record<string, unknown>; readonly release?: string } = {},
): RenderedTemplate[] {
  const { chart, values } = readChart(chartDir);
  const context: RenderContext = {
    Values: mergeValues(values, options.values ?? {}),
    Release: { Name: options.release ?? "troupe", Namespace: "default", Service: "Helm" },
    Chart: chart,
  };
  const templates = path.join(chartDir, "templates");
  return readdirSync(templates)
    .filter((file) => file.endsWith(".yaml"))
    .sort()
    .map((file) => {
      const text = compile(readFileSync(path.join(templates, file), "utf8")).render(
        context as unknown as Record<string, unknown>,
      );
      const manifests = parseAllDocuments(text)
        .map((document) => {
          if (document.errors.length > 0) {
            throw new Error(
              `${file}: rendered YAML does not parse: ${document.errors[0]?.message}`,
            );
          }
          return document.toJS() as Record<string, unknown> | null;
        })
        .filter((manifest): manifest is Record<string, unknown> => manifest !== null);
      return { file, text, manifests };
    });
}

/** Every `.Values.a.b` path the chart's templates reference, by file. */
export function valuePaths(chartDir: string): Map<string, string[]> {
  const templates = path.join(chartDir, "templates");
  const out = new Map<string, string[]>();
  for (const file of readdirSync(templates).filter((name) => name.endsWith(".yaml"))) {
    const text = readFileSync(path.join(templates, file), "utf8");
    out.set(
      file,
      [...text.matchAll(/\.Values((?:\.[A-Za-z0-9_]+)+)/g)].map((m) => m[1] ?? ""),
    );
  }
  return out;
}
